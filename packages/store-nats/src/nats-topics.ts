import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { type Topic, TopicSchema } from "@cebus/proto";
import { DiscardPolicy, RetentionPolicy, StorageType } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import { nanos } from "@nats-io/nats-core";
import { type NatsContext, TOPIC_CACHE_MS, topicMissing } from "./nats-context.js";

/**
 * Topics: a config value in the meta bucket, a JetStream stream per partition (offset = sequence - 1), and a KV
 * bucket of dedupe entries whose age limit is the topic's dedupe window.
 */

/** A topic's partitions (at least one). */
export const partitionCount = (topic: Topic) => Math.max(1, topic.partitions);

/** The topic's dedupe window in ms [2 minutes]. */
export const windowMs = (topic: Topic) =>
  topic.dedupeWindow
    ? Number(topic.dedupeWindow.seconds) * 1000 + Math.floor(topic.dedupeWindow.nanos / 1e6)
    : 120_000;

/**
 * How long JetStream itself remembers message ids: the topic's dedupe window, at least 2 minutes (a publish retried
 * after a lost answer is stored once, a term repeated after it was cut short appends its dead letters once) and at
 * most an hour (the server keeps every id of the window in memory).
 */
export const nativeWindow = (windowMs: number) => Math.min(Math.max(windowMs, 120_000), 3_600_000);

export async function getTopic(ctx: NatsContext, name: string, fresh = false): Promise<Topic | undefined> {
  const cached = ctx.topics.get(name);
  if (!fresh && cached && Date.now() - cached.at < TOPIC_CACHE_MS) return cached.topic;
  const entry = await ctx.meta.get(ctx.names.topicKey(name));
  const topic = entry && entry.operation === "PUT" ? fromBinary(TopicSchema, entry.value) : undefined;
  ctx.topics.set(name, { topic, at: Date.now() });
  return topic;
}

export async function requireTopic(ctx: NatsContext, name: string): Promise<Topic> {
  const topic = await getTopic(ctx, name);
  if (!topic) throw topicMissing(name);
  return topic;
}

export async function createTopic(ctx: NatsContext, topic: Topic): Promise<boolean> {
  try {
    await ctx.meta.create(ctx.names.topicKey(topic.name), toBinary(TopicSchema, topic));
  } catch (error) {
    if (error instanceof Error && /wrong last sequence/i.test(error.message)) return false;
    throw error;
  }
  ctx.topics.delete(topic.name);
  await addStreams(ctx, topic);
  return true;
}

async function addStreams(ctx: NatsContext, topic: Topic): Promise<void> {
  for (let p = 0; p < partitionCount(topic); p++) {
    const name = ctx.names.stream(topic.name, p);
    // a stream left by an earlier topic of this name (a delete cut short) goes: a new topic starts empty
    await ctx.jsm.streams.delete(name).catch(() => false);
    await ctx.jsm.streams.add({
      name,
      subjects: [ctx.names.subject(topic.name, p)],
      storage: StorageType.File,
      retention: RetentionPolicy.Limits,
      discard: DiscardPolicy.Old,
      allow_direct: true,
      duplicate_window: nanos(nativeWindow(windowMs(topic))),
      num_replicas: 1,
    });
  }
}

export async function listTopics(ctx: NatsContext): Promise<Topic[]> {
  const keys: string[] = [];
  for await (const key of await ctx.meta.keys("topic.*")) keys.push(key);
  const entries = await Promise.all(keys.map((key) => ctx.meta.get(key)));
  return entries
    .filter((e) => e && e.operation === "PUT")
    .map((e) => fromBinary(TopicSchema, e?.value ?? new Uint8Array()))
    .sort((a, b) => a.name.localeCompare(b.name));
}

export async function deleteTopic(ctx: NatsContext, name: string): Promise<boolean> {
  const topic = await getTopic(ctx, name, true);
  if (!topic) return false;
  await ctx.meta.purge(ctx.names.topicKey(name));
  ctx.topics.delete(name);
  for (let p = 0; p < partitionCount(topic); p++) {
    await ctx.jsm.streams.delete(ctx.names.stream(name, p)).catch(() => false);
    await ctx.meta.purge(ctx.names.bytesKey(name, p));
  }
  ctx.values.forget(ctx.names.bytesKey(name, 0).replace(/\.0$/, "."));
  await ctx.meta.purge(ctx.names.dedupeFloorKey(name));
  ctx.dedupeBuckets.delete(name);
  await ctx.kvm
    .open(ctx.names.dedupeBucket(name))
    .then((kv) => kv.destroy())
    .catch(() => {});
  return true;
}

/** The dedupe bucket of a topic, created on first use. */
export async function dedupeBucket(ctx: NatsContext, topic: Topic): Promise<KV> {
  let kv = ctx.dedupeBuckets.get(topic.name);
  if (!kv) {
    // entries older than the window (plus a margin for clocks) leave by themselves
    kv = await ctx.kvm.create(ctx.names.dedupeBucket(topic.name), {
      history: 1,
      storage: StorageType.File,
      ttl: Math.max(windowMs(topic), 1000) + 60_000,
    });
    ctx.dedupeBuckets.set(topic.name, kv);
  }
  return kv;
}
