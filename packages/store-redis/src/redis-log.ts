import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { CebusError } from "@cebus/core";
import { type Topic, TopicSchema } from "@cebus/proto";
import type { AppendEvent, AppendOptions, AppendResult, PartitionInfo, StoredEvent } from "@cebus/store";
import type { RemoteEvents } from "@cebus/store/delivery";
import { num, type RedisContext, runScript, toBuffer, topicMissing } from "./redis-context.js";

/**
 * The log: topics, their partitions as Redis Streams (entry id `0-<offset + 1>`), append with the dedupe window,
 * reads, offset for a time, retention of the log, and the `RemoteEvents` the delivery rules read it through.
 */

type Entry = [Buffer, Buffer[]];

export async function createTopic(context: RedisContext, topic: Topic): Promise<boolean> {
  const { redis, keys } = context;
  const created = await redis.hsetnx(keys.topics, topic.name, toBuffer(toBinary(TopicSchema, topic)));
  if (created === 0) return false;
  await runScript(context, "createTopic", [keys.base(topic.name)], [Math.max(1, topic.partitions)]);
  return true;
}

export async function getTopic(context: RedisContext, name: string): Promise<Topic | undefined> {
  const raw = await context.redis.hgetBuffer(context.keys.topics, name);
  return raw ? fromBinary(TopicSchema, raw) : undefined;
}

export async function listTopics(context: RedisContext): Promise<Topic[]> {
  const all = await context.redis.hgetallBuffer(context.keys.topics);
  return Object.values(all)
    .map((raw) => fromBinary(TopicSchema, raw))
    .sort((a, b) => a.name.localeCompare(b.name));
}

export async function deleteTopic(context: RedisContext, name: string): Promise<boolean> {
  const { redis, keys } = context;
  if ((await redis.hdel(keys.topics, name)) === 0) return false;
  const n = await redis.hget(keys.meta(name), "n");
  const doomed = [keys.meta(name), keys.dedupe(name), keys.dedupeTimes(name)];
  for (let p = 0; p < Number(n ?? 0); p++) doomed.push(keys.stream(name, p));
  await redis.del(...doomed);
  return true;
}

/** The number of partitions of a topic; not_found when it does not exist. */
export async function partitionCount(context: RedisContext, topic: string): Promise<number> {
  const n = await context.redis.hget(context.keys.meta(topic), "n");
  if (n === null) throw topicMissing(topic);
  return Number(n);
}

export async function partitionStats(context: RedisContext, topic: string): Promise<PartitionInfo[]> {
  return partitionInfos(await context.redis.hgetall(context.keys.meta(topic)));
}

/** The partitions of a topic from its meta hash (none when the topic does not exist). */
export function partitionInfos(meta: Record<string, string>): PartitionInfo[] {
  const out: PartitionInfo[] = [];
  for (let p = 0; p < Number(meta.n ?? 0); p++) {
    out.push({
      partition: p,
      startOffset: Number(meta[`s${p}`] ?? 0),
      endOffset: Number(meta[`e${p}`] ?? 0),
      eventCount: Number(meta[`c${p}`] ?? 0),
      bytes: Number(meta[`b${p}`] ?? 0),
    });
  }
  return out;
}

export async function offsetForTime(
  context: RedisContext,
  topic: string,
  partition: number,
  time: number,
): Promise<number> {
  await partitionCount(context, topic);
  return num(await runScript(context, "offsetForTime", [context.keys.base(topic)], [partition, time]));
}

export async function append(
  context: RedisContext,
  topic: string,
  events: AppendEvent[],
  options: AppendOptions,
): Promise<AppendResult[]> {
  const dedupe = options.dedupeSince <= options.now ? 1 : 0;
  const args = [options.now, options.dedupeSince, dedupe, events.length, ...eventArgs(events)];
  let flat: unknown[];
  try {
    flat = await runScript<unknown[]>(context, "append", [context.keys.base(topic)], args);
  } catch (error) {
    if (error instanceof CebusError && error.code === "not_found") throw topicMissing(topic);
    throw error;
  }
  const results = appendResults(flat);
  if (results.some((result) => !result.duplicate)) context.announce({ topic });
  return results;
}

/** Events as the append scripts take them: partition, dedupe key, has key, key, data. */
export function eventArgs(events: readonly AppendEvent[]): (string | number | Buffer)[] {
  return events.flatMap((e) => [
    e.partition,
    `${e.source.length}:${e.source}${e.id}`,
    e.key === undefined ? 0 : 1,
    e.key ?? "",
    toBuffer(e.data),
  ]);
}

/** The scripts' flat partition, offset, duplicate triples. */
export function appendResults(flat: readonly unknown[]): AppendResult[] {
  const out: AppendResult[] = [];
  for (let i = 0; i + 2 < flat.length; i += 3) {
    out.push({ partition: num(flat[i]), offset: num(flat[i + 1]), duplicate: num(flat[i + 2]) === 1 });
  }
  return out;
}

export async function read(
  context: RedisContext,
  topic: string,
  partition: number,
  fromOffset: number,
  limit: number,
): Promise<StoredEvent[]> {
  if (limit <= 0) return [];
  const stream = context.keys.stream(topic, partition);
  const entries = (await context.redis.xrangeBuffer(
    stream,
    `0-${fromOffset + 1}`,
    "+",
    "COUNT",
    limit,
  )) as Entry[];
  return entries.map((entry) => toEvent(partition, entry));
}

/** One pipeline (one round trip): the retained events at these offsets, in offset order of the request. */
export async function readAt(
  context: RedisContext,
  topic: string,
  partition: number,
  offsets: readonly number[],
): Promise<StoredEvent[]> {
  if (offsets.length === 0) return [];
  const stream = context.keys.stream(topic, partition);
  const pipeline = context.redis.pipeline();
  for (const offset of offsets) pipeline.xrangeBuffer(stream, `0-${offset + 1}`, `0-${offset + 1}`);
  const replies = (await pipeline.exec()) ?? [];
  const events: StoredEvent[] = [];
  for (const [error, entries] of replies) {
    if (error) throw error;
    const entry = (entries as Entry[])[0];
    if (entry) events.push(toEvent(partition, entry));
  }
  return events;
}

/** The partition's log as the delivery rules read it (`withRemoteEvents`). */
export function remoteEvents(
  context: RedisContext,
  topic: string,
  partition: number,
  startOffset: number | undefined,
): RemoteEvents {
  return {
    at: (offsets) => readAt(context, topic, partition, offsets),
    from: (offset, limit) => read(context, topic, partition, offset, limit),
    startOffset,
  };
}

function toEvent(partition: number, [id, fields]: Entry): StoredEvent {
  const f = new Map<string, Buffer>();
  for (let i = 0; i < fields.length; i += 2) f.set((fields[i] as Buffer).toString(), fields[i + 1] as Buffer);
  const data = f.get("d") ?? Buffer.alloc(0);
  return {
    partition,
    offset: Number(id.toString().slice(2)) - 1,
    publishTime: Number(f.get("t")?.toString()),
    key: f.get("k")?.toString(),
    data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
  };
}

/** Retention of the log, partition by partition; returns the events removed per partition (only those > 0). */
export async function trimLog(
  context: RedisContext,
  topic: string,
  options: { olderThan: number; maxBytes: number; dedupeBefore: number },
): Promise<Map<number, number>> {
  const n = await partitionCount(context, topic);
  const base = context.keys.base(topic);
  const args = [options.olderThan, options.maxBytes, options.dedupeBefore];
  const removed = await Promise.all(
    Array.from({ length: n }, (_, p) => runScript(context, "trim", [base], [p, ...args])),
  );
  const trimmed = new Map<number, number>();
  removed.forEach((count, p) => {
    if (num(count) > 0) trimmed.set(p, num(count));
  });
  return trimmed;
}
