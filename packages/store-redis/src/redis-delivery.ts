import { setTimeout as sleep } from "node:timers/promises";
import { CebusError } from "@cebus/core";
import type { AppendEvent, AppendResult } from "@cebus/store";
import { decodeState, encodeState, initialState, type PartitionDeliveryState } from "@cebus/store/delivery";
import { type RedisContext, runScript } from "./redis-context.js";
import { appendResults, eventArgs } from "./redis-log.js";

/**
 * The persistence of delivery state: one hash per (subscription, partition) holding a version (`v`) and the state
 * as `@cebus/store/delivery` encodes it (`s`). An operation loads the states it needs with their versions, lets
 * the rules decide, and commits the changed states with `commitScript`: a compare-and-set that writes nothing
 * when another store instance (another broker process) changed one of them meanwhile. The operation is then run
 * again on the new states (`optimistic`), a bounded number of times.
 *
 * Decoded states are kept per store instance by key and version, so an unchanged state is not decoded again. A
 * version is never reused (instance id + counter), so a cached state is the one stored under that version; the
 * rules never change a state they are given, so sharing it is safe.
 */

/** A state as loaded: its key, its version ("" when there is none) and the decoded state. */
export interface LoadedState {
  key: string;
  version: string;
  state: PartitionDeliveryState | undefined;
}

/** A state to write: as it was loaded, and as the rules left it. */
export interface StateWrite {
  loaded: LoadedState;
  after: PartitionDeliveryState;
}

/** What commits with the states, in the same atomic step. */
export interface CommitExtras {
  /** Keys to delete (the version 1 layout, when migrating). */
  deletes?: string[];
  /** Events appended to a topic without dedupe (a term's dead letters). */
  append?: { base: string; now: number; events: readonly AppendEvent[] };
}

/** Attempts of an operation whose states keep changing under it, before it gives up. */
export const maxAttempts = 64;

/** What one load read: the states (in the order of the keys) and, when asked for, a topic's meta hash. */
export interface Loaded {
  states: LoadedState[];
  /** The topic's meta hash (redis-keys.ts; empty when the topic does not exist or it was not asked for). */
  meta: Record<string, string>;
}

/** One pipeline (one round trip): the states at these keys with their versions, and the meta hash `metaKey`. */
export async function loadStates(
  context: RedisContext,
  keys: readonly string[],
  metaKey?: string,
): Promise<Loaded> {
  const pipeline = context.redis.pipeline();
  if (metaKey !== undefined) pipeline.hgetall(metaKey);
  for (const key of keys) pipeline.hmgetBuffer(key, "v", "s");
  const replies = (await pipeline.exec()) ?? [];
  for (const [error] of replies) if (error) throw error;
  const values = replies.map(([, value]) => value);
  const meta = metaKey === undefined ? {} : (values.shift() as Record<string, string>);
  const states = keys.map((key, i) => {
    const [version, encoded] = values[i] as (Buffer | null)[];
    return decoded(context, key, version?.toString() ?? "", encoded ?? null);
  });
  return { states, meta };
}

function decoded(context: RedisContext, key: string, version: string, encoded: Buffer | null): LoadedState {
  if (version === "" || !encoded) return { key, version: "", state: undefined };
  const cached = context.decoded.get(key);
  if (cached?.version === version) return { key, version, state: cached.state };
  const state = decodeState(encoded);
  context.decoded.set(key, { version, state });
  return { key, version, state };
}

/**
 * Writes the states the rules changed (they return the very state given when nothing changed), with the extras,
 * if every loaded version is still current. Returns the extras' append results, or undefined on a conflict.
 */
export async function commit(
  context: RedisContext,
  writes: readonly StateWrite[],
  extras: CommitExtras = {},
): Promise<AppendResult[] | undefined> {
  const changed = writes.filter((write) => write.loaded.state !== write.after);
  const deletes = extras.deletes ?? [];
  if (changed.length === 0 && deletes.length === 0 && !extras.append) return [];
  const versions = changed.map(() => context.nextVersion());
  const keys = [...changed.map((write) => write.loaded.key), ...deletes];
  const args: (string | number | Buffer)[] = [changed.length, deletes.length, extras.append ? 1 : 0];
  changed.forEach((write, i) => {
    args.push(write.loaded.version, versions[i] as string, Buffer.from(encodeState(write.after)));
  });
  if (extras.append) {
    keys.push(extras.append.base);
    args.push(extras.append.now, extras.append.events.length, ...eventArgs(extras.append.events));
  }
  const reply = await runScript<unknown[]>(context, "commit", keys, args);
  if (Number(reply[0]) !== 1) return undefined;
  changed.forEach((write, i) => {
    context.decoded.set(write.loaded.key, { version: versions[i] as string, state: write.after });
  });
  return appendResults(reply.slice(1));
}

/** What `optimistic` runs: one attempt, returning its result or `conflict` to be run again. */
export const conflict: unique symbol = Symbol("conflict");

/**
 * Runs an operation until it commits without a conflict: each attempt loads the current states again. After
 * `maxAttempts` conflicts it fails with `aborted` (the caller may retry).
 */
export async function optimistic<T>(what: string, attempt: () => Promise<T | typeof conflict>): Promise<T> {
  for (let tries = 0; tries < maxAttempts; tries++) {
    const result = await attempt();
    if (result !== conflict) return result;
    await sleep(Math.random() * Math.min(2 ** tries, 50)); // spread the contenders apart
  }
  throw new CebusError(
    "aborted",
    `${what}: the delivery state changed under ${maxAttempts} attempts in a row (other broker processes ` +
      "working on the same subscription partition); retry",
  );
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
