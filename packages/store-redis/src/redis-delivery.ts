import type { AppendEvent, AppendResult } from "@cebus/store";
import { decodeState, encodeState, initialState, type PartitionDeliveryState } from "@cebus/store/delivery";
import { type RedisContext, runScript } from "./redis-context.js";
import { appendResults, eventArgs } from "./redis-log.js";

/**
 * The persistence of delivery state: one hash per (subscription, partition) holding a version (`v`) and the state
 * as `@cebus/store/delivery` encodes it (`s`). An operation loads the states it needs with their versions, lets
 * the rules decide, and commits with `commitScript`: a compare-and-set that writes nothing when another store
 * instance (another broker process) changed one of the states meanwhile; the operation then runs again on fresh
 * states (optimistic.ts).
 *
 * Decoded states are kept per store instance by key, with the version they were read or written at. A version is
 * never reused (instance id + counter), so a cached state is the one stored under that version while the version
 * is current; the rules never change a state they are given, so sharing it is safe. An operation may start from
 * the cache without reading Redis (`fromCache`): its commit then checks the versions of the states it only read
 * as well, so a stale cache costs a conflict and a fresh read, never a wrong answer.
 */

/** A state as loaded: its key, its version ("" when there is none), the decoded state, and where it came from. */
export interface LoadedState {
  key: string;
  version: string;
  state: PartitionDeliveryState | undefined;
  /** Taken from this instance's cache, not read from Redis in this attempt. */
  cached: boolean;
}

/** A state as an operation leaves it: as it was loaded, and as the rules left it (undefined: only read). */
export interface StateWrite {
  loaded: LoadedState;
  after: PartitionDeliveryState | undefined;
}

/** What commits with the states, in the same atomic step. */
export interface CommitExtras {
  /** Keys to delete (the version 1 layout, when migrating). */
  deletes?: string[];
  /** Events appended to a topic without dedupe (a term's dead letters). */
  append?: { base: string; now: number; events: readonly AppendEvent[] };
}

/** What one load read: the states (in the order of the keys) and, when asked for, a topic's meta hash. */
export interface Loaded {
  states: LoadedState[];
  /** The topic's meta hash (redis-keys.ts; empty when the topic does not exist, not asked for, or cached). */
  meta: Record<string, string>;
}

/**
 * The states at these keys with their versions, and the meta hash `metaKey`: from the cache when `fromCache` and
 * every key is cached (no round trip), else one pipeline.
 */
export async function loadStates(
  context: RedisContext,
  keys: readonly string[],
  options: { metaKey?: string | undefined; fromCache?: boolean } = {},
): Promise<Loaded> {
  if (options.fromCache) {
    const cached = keys.map((key) => context.decoded.get(key));
    if (cached.every((entry) => entry !== undefined)) {
      const states = cached.map((entry, i) => ({ key: keys[i] as string, ...entry, cached: true }));
      return { states, meta: {} };
    }
  }
  const pipeline = context.redis.pipeline();
  if (options.metaKey !== undefined) pipeline.hgetall(options.metaKey);
  for (const key of keys) pipeline.hmgetBuffer(key, "v", "s");
  const replies = (await pipeline.exec()) ?? [];
  for (const [error] of replies) if (error) throw error;
  const values = replies.map(([, value]) => value);
  const meta = options.metaKey === undefined ? {} : (values.shift() as Record<string, string>);
  const states = keys.map((key, i) => {
    const [version, encoded] = values[i] as (Buffer | null)[];
    return decoded(context, key, version?.toString() ?? "", encoded ?? null);
  });
  return { states, meta };
}

function decoded(context: RedisContext, key: string, version: string, encoded: Buffer | null): LoadedState {
  if (version === "" || !encoded) {
    context.decoded.delete(key);
    return { key, version: "", state: undefined, cached: false };
  }
  const cached = context.decoded.get(key);
  if (cached?.version === version) return { key, version, state: cached.state, cached: false };
  const state = decodeState(encoded);
  context.decoded.set(key, { version, state });
  return { key, version, state, cached: false };
}

/**
 * Writes the states the rules changed (they return the very state given when nothing changed) with the extras,
 * if every state is still at the version it was loaded at. States only read are checked too when they came from
 * the cache or when something is written. Returns the extras' append results, or undefined on a conflict.
 */
export async function commit(
  context: RedisContext,
  writes: readonly StateWrite[],
  extras: CommitExtras = {},
): Promise<AppendResult[] | undefined> {
  const changed = writes.filter((write) => write.after !== undefined && write.after !== write.loaded.state);
  const deletes = extras.deletes ?? [];
  const writing = changed.length > 0 || deletes.length > 0 || extras.append !== undefined;
  const involved = writes.filter((write) => changed.includes(write) || writing || write.loaded.cached);
  if (involved.length === 0) return [];
  const versions = involved.map((write) => (changed.includes(write) ? context.nextVersion() : ""));
  const keys = [...involved.map((write) => write.loaded.key), ...deletes];
  const args: (string | number | Buffer)[] = [involved.length, deletes.length, extras.append ? 1 : 0];
  involved.forEach((write, i) => {
    const encoded = versions[i] ? Buffer.from(encodeState(write.after as PartitionDeliveryState)) : "";
    args.push(write.loaded.version, versions[i] as string, encoded);
  });
  if (extras.append) {
    keys.push(extras.append.base);
    args.push(extras.append.now, extras.append.events.length, ...eventArgs(extras.append.events));
  }
  const reply = await runScript<unknown[]>(context, "commit", keys, args);
  if (Number(reply[0]) !== 1) return undefined;
  involved.forEach((write, i) => {
    const version = versions[i] as string;
    if (version)
      context.decoded.set(write.loaded.key, { version, state: write.after as PartitionDeliveryState });
  });
  return appendResults(reply.slice(1));
}

/** The states of a new subscription: each partition at its cursor with no lease (written unconditionally). */
export async function createStates(
  context: RedisContext,
  topic: string,
  subscription: string,
  cursors: readonly number[],
): Promise<void> {
  if (cursors.length === 0) return;
  const multi = context.redis.multi();
  cursors.forEach((cursor, partition) => {
    const state = initialState(cursor);
    const key = context.keys.state(topic, subscription, partition);
    const version = context.nextVersion();
    multi.hset(key, "v", version, "s", Buffer.from(encodeState(state)));
    context.decoded.set(key, { version, state });
  });
  await multi.exec();
}

export async function deleteStates(
  context: RedisContext,
  topic: string,
  subscription: string,
  partitions: number,
): Promise<void> {
  const keys = Array.from({ length: partitions }, (_, p) => context.keys.state(topic, subscription, p));
  for (const key of keys) context.decoded.delete(key);
  if (keys.length > 0) await context.redis.del(...keys);
}
