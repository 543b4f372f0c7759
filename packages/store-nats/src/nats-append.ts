import { CebusError } from "@cebus/core";
import type { Topic } from "@cebus/proto";
import type { AppendEvent, AppendOptions, AppendResult } from "@cebus/store";
import type { KV } from "@nats-io/kv";
import { encodeEvent } from "./event-codec.js";
import { dedupeKey } from "./names.js";
import { isConflict, json, type NatsContext, parse, TOPIC_CACHE_MS } from "./nats-context.js";
import { addBytes } from "./nats-log.js";
import { dedupeBucket, nativeWindow, partitionCount, requireTopic, windowMs } from "./nats-topics.js";

/**
 * Appends. Dedupe by (source, id) within the topic's window: an entry in the topic's dedupe bucket is reserved by
 * compare-and-set before the event is published, with a message id JetStream dedupes a retried publish on; past
 * JetStream's own window the entry records the offset.
 */

interface DedupeEntry {
  p: number;
  /** Offset; absent while the publish that reserved the entry is under way. */
  o?: number;
  t: number;
}

/** One event to publish: its index in the batch, its partition and (with dedupe) its message id and entry. */
interface ToStore {
  index: number;
  partition: number;
  msgID?: string | undefined;
  key?: string;
  t?: number;
}

type Reservation = { duplicate: { p: number; o: number } } | { revision: number; p: number; t: number };

export async function append(
  ctx: NatsContext,
  name: string,
  events: AppendEvent[],
  opts: AppendOptions,
): Promise<AppendResult[]> {
  const topic = await requireTopic(ctx, name);
  checkPartitions(topic, events);
  const results: (AppendResult | undefined)[] = new Array(events.length);
  if (opts.dedupeSince > opts.now) {
    const toStore = events.map((e, index) => ({ index, partition: e.partition }));
    await storeEvents(ctx, name, events, toStore, opts.now, results);
    return results as AppendResult[];
  }
  const kv = await dedupeBucket(ctx, topic);
  const { toStore, repeats } = await reserveAll(ctx, topic, kv, events, opts, results);
  await storeEvents(ctx, name, events, toStore, opts.now, results);
  // within JetStream's own window the message id finds the offset again; past it, the entry records it
  if (windowMs(topic) > nativeWindow(windowMs(topic))) {
    await Promise.all(
      toStore.map((s) => {
        const entry: DedupeEntry = { p: s.partition, o: results[s.index]?.offset, t: s.t ?? opts.now };
        return kv.put(s.key as string, json(entry));
      }),
    );
  }
  for (const r of repeats) {
    const of = results[r.of] as AppendResult;
    results[r.index] = { partition: of.partition, offset: of.offset, duplicate: true };
  }
  return results as AppendResult[];
}

/**
 * Appends a term's dead letters, each under the message id of its lease (`ids`), so the dead-letter stream's
 * duplicate window stores a dead letter once however often the term is repeated.
 */
export async function appendDeadLetters(
  ctx: NatsContext,
  name: string,
  events: AppendEvent[],
  ids: string[],
  now: number,
): Promise<void> {
  const topic = await requireTopic(ctx, name);
  checkPartitions(topic, events);
  const toStore = events.map((e, index) => ({ index, partition: e.partition, msgID: ids[index] }));
  await storeEvents(ctx, name, events, toStore, now, new Array(events.length));
}

function checkPartitions(topic: Topic, events: AppendEvent[]): void {
  const partitions = partitionCount(topic);
  for (const [i, e] of events.entries()) {
    if (!Number.isInteger(e.partition) || e.partition < 0 || e.partition >= partitions)
      throw new CebusError(
        "invalid_argument",
        `events[${i}] targets partition ${e.partition} but the topic has ${partitions}`,
      );
  }
}

/** Publishes the events at once, records their results, counts their bytes and tells the other processes. */
async function storeEvents(
  ctx: NatsContext,
  name: string,
  events: AppendEvent[],
  toStore: ToStore[],
  now: number,
  results: (AppendResult | undefined)[],
): Promise<void> {
  const acks = await Promise.all(
    toStore.map((s) => {
      const e = events[s.index] as AppendEvent;
      return ctx.fast.publish(
        ctx.names.subject(name, s.partition),
        encodeEvent(now, e.key, e.data),
        s.msgID ? { msgID: s.msgID } : undefined,
      );
    }),
  );
  const bytes = new Map<number, number>();
  for (const [j, s] of toStore.entries()) {
    const ack = acks[j] as { seq: number; duplicate: boolean };
    results[s.index] = { partition: s.partition, offset: ack.seq - 1, duplicate: ack.duplicate };
    if (ack.duplicate) continue;
    const size = (events[s.index] as AppendEvent).data.byteLength;
    bytes.set(s.partition, (bytes.get(s.partition) ?? 0) + size);
  }
  await Promise.all([...bytes].map(([p, delta]) => addBytes(ctx, name, p, delta)));
  if (bytes.size > 0) ctx.announce({ topic: name });
}

/** Reserves the dedupe entry of each first (source, id) of the batch; duplicates get their results at once. */
async function reserveAll(
  ctx: NatsContext,
  topic: Topic,
  kv: KV,
  events: AppendEvent[],
  opts: AppendOptions,
  results: (AppendResult | undefined)[],
): Promise<{ toStore: ToStore[]; repeats: { index: number; of: number }[] }> {
  const since = Math.max(opts.dedupeSince, await dedupeFloor(ctx, topic.name));
  const firstOf = new Map<string, number>();
  const keys = events.map((e) => dedupeKey(e.source, e.id));
  const reservations = await Promise.all(
    keys.map((key, i) => {
      if (firstOf.has(key)) return undefined;
      firstOf.set(key, i);
      const partition = (events[i] as AppendEvent).partition;
      return reserve(ctx, kv, topic.name, key, partition, opts.now, since);
    }),
  );
  const toStore: ToStore[] = [];
  const repeats: { index: number; of: number }[] = [];
  for (const [i, r] of reservations.entries()) {
    const key = keys[i] as string;
    if (r === undefined) repeats.push({ index: i, of: firstOf.get(key) as number });
    else if ("duplicate" in r)
      results[i] = { partition: r.duplicate.p, offset: r.duplicate.o, duplicate: true };
    else toStore.push({ index: i, partition: r.p, msgID: `${key}.${r.revision}`, key, t: r.t });
  }
  return { toStore, repeats };
}

/** Reserves the dedupe entry of an event, or finds the event it repeats. */
async function reserve(
  ctx: NatsContext,
  kv: KV,
  topic: string,
  key: string,
  partition: number,
  now: number,
  since: number,
): Promise<Reservation> {
  for (let attempt = 0; ; attempt++) {
    try {
      // most events are new: try to create the entry first, and read it only when it exists
      if (attempt === 0) {
        const subject = `$KV.${ctx.names.dedupeBucket(topic)}.${key}`;
        const created = await ctx.fast.publish(subject, json({ p: partition, t: now }), {
          expectLastSubjectSequence: 0,
        });
        return { revision: created.seq, p: partition, t: now };
      }
      return await reserveExisting(kv, key, partition, now, since);
    } catch (error) {
      if (attempt >= 20 || !isConflict(error)) throw error;
    }
  }
}

async function reserveExisting(
  kv: KV,
  key: string,
  partition: number,
  now: number,
  since: number,
): Promise<Reservation> {
  const entry = await kv.get(key);
  if (entry?.operation !== "PUT") {
    return { revision: await kv.create(key, json({ p: partition, t: now })), p: partition, t: now };
  }
  const found = parse<DedupeEntry>(entry.value);
  if (found.t >= since) {
    if (found.o !== undefined) return { duplicate: { p: found.p, o: found.o } };
    // stored (or reserved by a publish whose answer was lost): publish again under its message id, and
    // JetStream answers with the original offset (or stores it, when the first publish never arrived)
    return { revision: entry.revision, p: found.p, t: found.t };
  }
  const revision = await kv.update(key, json({ p: partition, t: now }), entry.revision);
  return { revision, p: partition, t: now };
}

/** Dedupe entries recorded before the floor (set by trim's `dedupeBefore`) no longer count. */
async function dedupeFloor(ctx: NatsContext, topic: string): Promise<number> {
  const cached = ctx.floors.get(topic);
  if (cached && Date.now() - cached.at < TOPIC_CACHE_MS) return cached.floor;
  const entry = await ctx.meta.get(ctx.names.dedupeFloorKey(topic));
  const floor = entry && entry.operation === "PUT" ? parse<number>(entry.value) : 0;
  ctx.floors.set(topic, { floor, at: Date.now() });
  return floor;
}

/** Raises the topic's dedupe floor to `dedupeBefore` (trim). */
export async function raiseDedupeFloor(ctx: NatsContext, topic: string, dedupeBefore: number): Promise<void> {
  await ctx.values.change(ctx.names.dedupeFloorKey(topic), (current) => {
    const floor = current ? parse<number>(current.value) : 0;
    ctx.floors.set(topic, { floor: Math.max(floor, dedupeBefore), at: Date.now() });
    return { value: dedupeBefore > floor ? json(dedupeBefore) : undefined, result: undefined };
  });
}
