import { fromBinary } from "@bufbuild/protobuf";
import { SubscriptionSchema } from "@cebus/proto";
import type { ClaimRequest, ClaimResult, SubscriptionCounts, SubscriptionRef } from "@cebus/store";
import {
  byPartition,
  claimInput,
  claimResult,
  claim as claimRule,
  dropRemoved,
  partitionCounts,
  requeue as requeueRule,
  seekPartition,
  sumCounts,
  withRemoteEvents,
} from "@cebus/store/delivery";
import { conflict, optimistic } from "./optimistic.js";
import { type RedisContext, subscriptionMissing } from "./redis-context.js";
import { commit, type LoadedState, loadStates, type StateWrite } from "./redis-delivery.js";
import { remoteEvents, trimLog } from "./redis-log.js";

/**
 * The delivery operations of the Redis store (settle is in redis-settle.ts): each loads the states it needs (a
 * claim from this instance's cache when it holds them, else one round trip), reads the events the rules ask for
 * (`withRemoteEvents`: one pipeline per round), lets `@cebus/store/delivery` decide, and commits what changed
 * with a compare-and-set (redis-delivery.ts), run again on fresh states when another broker process changed one
 * meanwhile (optimistic.ts).
 */

const noRange = { startOffset: Number.MAX_SAFE_INTEGER, endOffset: Number.MAX_SAFE_INTEGER };

/** The first retained offset of a partition from its topic's meta hash, when known. */
function startOf(meta: Record<string, string>, partition: number): number | undefined {
  const start = meta[`s${partition}`];
  return start === undefined ? undefined : Number(start);
}

function partitionKeys(context: RedisContext, ref: SubscriptionRef, partitions: readonly number[]): string[] {
  return partitions.map((p) => context.keys.state(ref.topic, ref.subscription, p));
}

export async function claim(context: RedisContext, request: ClaimRequest): Promise<ClaimResult> {
  if (request.max <= 0) return [];
  const { topic, partition } = request;
  const keys = partitionKeys(context, request, [partition]);
  return optimistic(context, keys, "claim", async (fresh) => {
    const metaKey = context.keys.meta(topic);
    const { states, meta } = await loadStates(context, keys, { metaKey, fromCache: !fresh });
    const loaded = states[0] as LoadedState;
    const state = loaded.state;
    if (!state) throw subscriptionMissing(request.subscription);
    const events = remoteEvents(context, topic, partition, startOf(meta, partition));
    const outcome = await withRemoteEvents(events, (reader) => claimRule(state, claimInput(request), reader));
    const done = await commit(context, [{ loaded, after: outcome.state }]);
    return done === undefined ? conflict : claimResult(outcome);
  });
}

export async function requeue(
  context: RedisContext,
  ref: SubscriptionRef,
  refs: { partition: number; offset: number }[],
  now: number,
): Promise<number> {
  const groups = byPartition(refs);
  const partitions = [...groups.keys()];
  const keys = partitionKeys(context, ref, partitions);
  const count = await optimistic(context, keys, "requeue", async () => {
    const [exists, { states, meta }] = await Promise.all([
      context.redis.hexists(context.keys.subscriptions, ref.subscription),
      loadStates(context, keys, { metaKey: context.keys.meta(ref.topic) }),
    ]);
    if (!exists) throw subscriptionMissing(ref.subscription);
    const decided = await Promise.all(
      partitions.map(async (p, i) => {
        const loaded = states[i] as LoadedState;
        const state = loaded.state;
        if (!state) return { loaded, after: undefined, count: 0 };
        const events = remoteEvents(context, ref.topic, p, startOf(meta, p));
        const offsets = groups.get(p) as number[];
        const outcome = await withRemoteEvents(events, (reader) => requeueRule(state, offsets, now, reader));
        return { loaded, after: outcome.state, count: outcome.count };
      }),
    );
    if ((await commit(context, decided)) === undefined) return conflict;
    return decided.reduce((sum, part) => sum + part.count, 0);
  });
  if (count > 0) context.announce({ topic: ref.topic, subscription: ref.subscription, at: now });
  return count;
}

/** Moves the given cursors (index = partition) and drops every lease of every partition. */
export async function seek(context: RedisContext, ref: SubscriptionRef, cursors: number[]): Promise<void> {
  const meta = await context.redis.hgetall(context.keys.meta(ref.topic));
  const count = Math.max(Number(meta.n ?? 0), cursors.length);
  const partitions = Array.from({ length: count }, (_, p) => p);
  const keys = partitionKeys(context, ref, partitions);
  const sought = await optimistic(context, keys, "seek", async () => {
    const [exists, { states }] = await Promise.all([
      context.redis.hexists(context.keys.subscriptions, ref.subscription),
      loadStates(context, keys),
    ]);
    if (!exists) return false;
    const writes = states.map((loaded, p) => ({ loaded, after: seekPartition(loaded.state, cursors[p]) }));
    return (await commit(context, writes)) === undefined ? conflict : true;
  });
  if (sought) context.announce({ topic: ref.topic, subscription: ref.subscription });
}

export async function subscriptionCounts(
  context: RedisContext,
  name: string,
  now: number,
): Promise<SubscriptionCounts> {
  const raw = await context.redis.hgetBuffer(context.keys.subscriptions, name);
  if (!raw) return { backlog: 0, inFlight: 0, oldestUnackedPublishTime: undefined };
  const ref = { subscription: name, topic: fromBinary(SubscriptionSchema, raw).topic };
  const metaKey = context.keys.meta(ref.topic);
  const n = Number((await context.redis.hget(metaKey, "n")) ?? 0);
  const partitions = Array.from({ length: n }, (_, p) => p);
  const { states, meta } = await loadStates(context, partitionKeys(context, ref, partitions), { metaKey });
  const parts = await Promise.all(
    states.map(async ({ state }, p) => {
      if (!state) return [];
      const range =
        meta[`s${p}`] === undefined
          ? noRange
          : { startOffset: Number(meta[`s${p}`]), endOffset: Number(meta[`e${p}`] ?? 0) };
      const events = remoteEvents(context, ref.topic, p, range.startOffset);
      return [await withRemoteEvents(events, (reader) => partitionCounts(state, range, now, reader))];
    }),
  );
  return sumCounts(parts.flat());
}

/** Retention of the log, then the waiting leases of removed events dropped from the topic's subscriptions. */
export async function trim(
  context: RedisContext,
  topic: string,
  options: { olderThan: number; maxBytes: number; dedupeBefore: number },
): Promise<number> {
  const trimmed = await trimLog(context, topic, options);
  if (trimmed.size === 0) return 0;
  await dropRemovedEvents(context, topic, [...trimmed.keys()]);
  let removed = 0;
  for (const count of trimmed.values()) removed += count;
  return removed;
}

/** The names of the subscriptions of a topic. */
export async function subscriptionsOf(context: RedisContext, topic: string): Promise<string[]> {
  const all = await context.redis.hgetallBuffer(context.keys.subscriptions);
  return Object.entries(all)
    .filter(([, raw]) => fromBinary(SubscriptionSchema, raw).topic === topic)
    .map(([name]) => name);
}

/**
 * After retention removed events of these partitions: the waiting leases of removed events dropped from the
 * topic's subscriptions (`dropRemoved`), one compare-and-set per subscription.
 */
export async function dropRemovedEvents(
  context: RedisContext,
  topic: string,
  trimmed: readonly number[],
): Promise<void> {
  const subscriptions = await subscriptionsOf(context, topic);
  await Promise.all(
    subscriptions.map((name) => dropRemovedOf(context, { subscription: name, topic }, trimmed)),
  );
}

async function dropRemovedOf(
  context: RedisContext,
  ref: SubscriptionRef,
  partitions: readonly number[],
): Promise<void> {
  const keys = partitionKeys(context, ref, partitions);
  await optimistic(context, keys, "trim", async () => {
    const { states, meta } = await loadStates(context, keys, { metaKey: context.keys.meta(ref.topic) });
    const writes = await Promise.all(
      states.map(async (loaded, i): Promise<StateWrite> => {
        const state = loaded.state;
        if (!state) return { loaded, after: undefined };
        const p = partitions[i] as number;
        const events = remoteEvents(context, ref.topic, p, startOf(meta, p));
        return { loaded, after: await withRemoteEvents(events, (reader) => dropRemoved(state, reader)) };
      }),
    );
    return (await commit(context, writes)) === undefined ? conflict : true;
  });
}
