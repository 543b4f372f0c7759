import type { PartitionInfo, StoredEvent } from "@cebus/store";
import type { RemoteEvents } from "@cebus/store/delivery";
import type { StreamInfo } from "@nats-io/jetstream";
import { decodeEvent } from "./event-codec.js";
import { json, type NatsContext, parse, topicMissing } from "./nats-context.js";
import { partitionCount, requireTopic } from "./nats-topics.js";

/**
 * The log: one JetStream stream per topic partition, an event per message (offset = sequence - 1), read with
 * direct gets. Streams have no holes: retention purges a prefix. The bytes of each partition are a counter in the
 * meta bucket (JetStream counts its own framing too).
 */

/** Direct gets in flight at once for one read of many offsets. */
const readChunk = 512;

export async function streamState(
  ctx: NatsContext,
  topic: string,
  partition: number,
): Promise<StreamInfo["state"]> {
  try {
    return (await ctx.jsm.streams.info(ctx.names.stream(topic, partition))).state;
  } catch (error) {
    if (error instanceof Error && /stream not found/i.test(error.message)) throw topicMissing(topic);
    throw error;
  }
}

const toStored = (partition: number, offset: number, bytes: Uint8Array): StoredEvent => {
  const decoded = decodeEvent(bytes);
  return { partition, offset, publishTime: decoded.publishTime, key: decoded.key, data: decoded.data };
};

/** The retained events at these offsets (in any order; offsets not retained are left out): one pipelined batch. */
export async function readAt(
  ctx: NatsContext,
  topic: string,
  partition: number,
  offsets: readonly number[],
): Promise<StoredEvent[]> {
  const stream = ctx.names.stream(topic, partition);
  const found: StoredEvent[] = [];
  for (let i = 0; i < offsets.length; i += readChunk) {
    const chunk = offsets.slice(i, i + readChunk);
    const msgs = await Promise.all(chunk.map((offset) => ctx.fast.directGet(stream, { seq: offset + 1 })));
    msgs.forEach((msg, j) => {
      const offset = chunk[j] as number;
      if (msg && msg.seq === offset + 1) found.push(toStored(partition, offset, msg.data));
    });
  }
  return found;
}

/**
 * Up to `limit` events from `offset` on, in offset order: the first at or after the offset (trimmed events leave a
 * gap below the stream's first sequence) and the last of the stream at once (two direct gets: nothing new costs
 * one round trip), then the events between them at once.
 */
export async function readFrom(
  ctx: NatsContext,
  topic: string,
  partition: number,
  offset: number,
  limit: number,
): Promise<StoredEvent[]> {
  if (limit <= 0) return [];
  const stream = ctx.names.stream(topic, partition);
  const subject = ctx.names.subject(topic, partition);
  const [first, last] = await Promise.all([
    ctx.fast.directGet(stream, { seq: offset + 1, nextBySubject: subject }),
    limit === 1 ? undefined : ctx.fast.directGet(stream, { lastBySubject: subject }),
  ]);
  if (!first) return [];
  const out: StoredEvent[] = [toStored(partition, first.seq - 1, first.data)];
  const end = Math.min(last?.seq ?? first.seq, first.seq + limit - 1);
  const seqs: number[] = [];
  for (let seq = first.seq + 1; seq <= end; seq++) seqs.push(seq);
  const msgs = await Promise.all(
    seqs.map((seq) => (seq === last?.seq ? last : ctx.fast.directGet(stream, { seq }))),
  );
  for (const msg of msgs) {
    if (!msg) break;
    out.push(toStored(partition, msg.seq - 1, msg.data));
  }
  return out;
}

/** The partition's log as the delivery rules read it (`withRemoteEvents`). */
export function remoteEvents(
  ctx: NatsContext,
  topic: string,
  partition: number,
  startOffset?: number,
): RemoteEvents {
  return {
    at: (offsets) => readAt(ctx, topic, partition, offsets),
    from: (offset, limit) => readFrom(ctx, topic, partition, offset, limit),
    startOffset,
  };
}

/** The retained range of a stream: [first sequence - 1, last sequence). */
export function retainedRange(state: StreamInfo["state"]): { startOffset: number; endOffset: number } {
  return {
    startOffset: state.messages === 0 ? state.last_seq : state.first_seq - 1,
    endOffset: state.last_seq,
  };
}

export async function partitionStats(ctx: NatsContext, name: string): Promise<PartitionInfo[]> {
  const topic = await requireTopic(ctx, name);
  return Promise.all(
    Array.from({ length: partitionCount(topic) }, async (_, p): Promise<PartitionInfo> => {
      const [state, bytes] = await Promise.all([
        streamState(ctx, name, p),
        ctx.meta.get(ctx.names.bytesKey(name, p)),
      ]);
      return {
        partition: p,
        ...retainedRange(state),
        eventCount: state.messages,
        bytes: bytes && bytes.operation === "PUT" ? parse<number>(bytes.value) : 0,
      };
    }),
  );
}

/** The first offset whose publish time is at or after `time`: publish times grow with the offset (binary search). */
export async function offsetForTime(
  ctx: NatsContext,
  name: string,
  partition: number,
  time: number,
): Promise<number> {
  await requireTopic(ctx, name);
  const state = await streamState(ctx, name, partition);
  if (state.messages === 0) return state.last_seq;
  let lo = state.first_seq;
  let hi = state.last_seq + 1;
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    const event = (await readFrom(ctx, name, partition, mid - 1, 1))[0];
    if (!event || event.offset + 1 > hi - 1) {
      hi = mid;
      continue;
    }
    if (event.publishTime >= time) hi = mid;
    else lo = event.offset + 2;
  }
  return lo - 1;
}

export async function addBytes(ctx: NatsContext, topic: string, partition: number, delta: number) {
  if (delta === 0) return;
  await ctx.values.change(ctx.names.bytesKey(topic, partition), (current) => ({
    value: json((current ? parse<number>(current.value) : 0) + delta),
    result: undefined,
  }));
}

/** What retention removed from a partition: how many events, and the new first retained offset. */
export interface Trimmed {
  removed: number;
  startOffset: number;
}

/**
 * Retention on the log: per partition, purges the oldest events while they are older than `olderThan` or the
 * partition holds more than `maxBytes` (0 = no cap); sizes come off the byte counter. Returns what was removed
 * per partition (partitions that lost none are left out).
 */
export async function trimLog(
  ctx: NatsContext,
  name: string,
  partitions: number,
  options: { olderThan: number; maxBytes: number },
): Promise<Map<number, Trimmed>> {
  const trimmed = new Map<number, Trimmed>();
  for (let p = 0; p < partitions; p++) {
    const result = await trimPartition(ctx, name, p, options);
    if (result.removed > 0) trimmed.set(p, result);
  }
  return trimmed;
}

async function trimPartition(
  ctx: NatsContext,
  name: string,
  p: number,
  { olderThan, maxBytes }: { olderThan: number; maxBytes: number },
): Promise<Trimmed> {
  const state = await streamState(ctx, name, p);
  if (state.messages === 0) return { removed: 0, startOffset: state.last_seq };
  const bytesEntry = await ctx.meta.get(ctx.names.bytesKey(name, p));
  const bytes = bytesEntry && bytesEntry.operation === "PUT" ? parse<number>(bytesEntry.value) : 0;
  let seq = state.first_seq;
  let freed = 0;
  scan: while (seq <= state.last_seq) {
    const batch = await readFrom(ctx, name, p, seq - 1, 256);
    if (batch.length === 0) break;
    for (const event of batch) {
      const tooOld = event.publishTime < olderThan;
      const tooBig = maxBytes > 0 && bytes - freed > maxBytes;
      if (!tooOld && !tooBig) break scan;
      freed += event.data.byteLength;
      seq = event.offset + 2;
    }
  }
  if (seq <= state.first_seq) return { removed: 0, startOffset: state.first_seq - 1 };
  const purged = await ctx.jsm.streams.purge(ctx.names.stream(name, p), { seq });
  await addBytes(ctx, name, p, -freed);
  return { removed: purged.purged, startOffset: seq - 1 };
}
