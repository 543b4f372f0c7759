import { CebusError } from "@cebus/core";
import { encodeState, type PartitionDeliveryState } from "@cebus/store/delivery";
import { JsApiError } from "./js-requests.js";
import { decodeStoredState } from "./migrate-state.js";
import { isConflict, type NatsContext } from "./nats-context.js";

/**
 * The persistence of delivery state: one value in the meta bucket per (subscription, partition), the
 * `PartitionDeliveryState` as `@cebus/store/delivery` encodes it, changed only by compare-and-set on its revision
 * (a publish expecting the subject's last sequence), so claims, settles and the rest from any number of broker
 * processes never interleave on one partition. A change that loses to another writer is decided again on a fresh
 * read, at most `maxAttempts` times.
 *
 * Within one process, changes of one state run one at a time, and the state this process wrote last is kept
 * decoded (`StateCache`): a change first decides on it without a read; if another process wrote since, the save
 * fails on the revision and the change runs again on a fresh read. A decision that writes nothing, made on a
 * cached state, stands only when a fresh read finds the same revision (nobody wrote since: the state held during
 * the decision's reads); otherwise it is made again on the fresh state, so no answer rests on a replaced state.
 */

export type StateCache = Map<string, { revision: number; state: PartitionDeliveryState }>;

/** A state as loaded: the revision it was read at (that of a deletion marker, or 0 when never written). */
export interface LoadedState {
  revision: number;
  /** Undefined when the subscription has no state for the partition (never created, or deleted). */
  state: PartitionDeliveryState | undefined;
  /** Taken from this process's cache instead of read. */
  cached: boolean;
}

/** What a change decided: the state to save (undefined, or the very state given: nothing to save) and the answer. */
export interface Decision<T> {
  state?: PartitionDeliveryState | undefined;
  result: T;
}

export type Decide<T> = (state: PartitionDeliveryState | undefined) => Promise<Decision<T>> | Decision<T>;

/** Attempts of one change before it gives up with `aborted` (each conflict means another process wrote). */
export const maxAttempts = 50;

/** Reads the current state of one subscription partition (never from the cache). */
export async function loadState(
  ctx: NatsContext,
  subscription: string,
  partition: number,
): Promise<LoadedState> {
  const key = ctx.names.stateKey(subscription, partition);
  const msg = await ctx.fast.directGet(ctx.names.metaStream, { lastBySubject: ctx.names.metaSubject(key) });
  if (!msg) return { revision: 0, state: undefined, cached: false };
  if (msg.operation !== "PUT") return { revision: msg.seq, state: undefined, cached: false };
  return { revision: msg.seq, state: decodeStoredState(msg.data), cached: false };
}

/** The current states of partitions 0..count-1 of a subscription, read at once. */
export function loadStates(ctx: NatsContext, subscription: string, count: number): Promise<LoadedState[]> {
  return Promise.all(
    Array.from({ length: count }, (_, partition) => loadState(ctx, subscription, partition)),
  );
}

/**
 * Runs `decide` on the state of one subscription partition and saves what it returns by compare-and-set,
 * deciding again on a fresh read when another process wrote first. `fresh` skips the cache on the first attempt
 * (for decisions with effects outside the state, such as a term's dead letters). Returns the decision's answer.
 */
export function changeState<T>(
  ctx: NatsContext,
  subscription: string,
  partition: number,
  decide: Decide<T>,
  options: { fresh?: boolean } = {},
): Promise<T> {
  const key = ctx.names.stateKey(subscription, partition);
  return serialized(ctx.locks, key, () =>
    runChange(ctx, { subscription, partition, key }, decide, options.fresh === true),
  );
}

interface Target {
  subscription: string;
  partition: number;
  key: string;
}

async function runChange<T>(ctx: NatsContext, target: Target, decide: Decide<T>, fresh: boolean): Promise<T> {
  const read = () => loadState(ctx, target.subscription, target.partition);
  let loaded = fresh ? await read() : await cachedState(ctx, target);
  for (let attempt = 0; attempt < maxAttempts; attempt++) {
    const decision = await decide(loaded.state);
    const after = decision.state;
    if (after === undefined || after === loaded.state) {
      if (!loaded.cached) return decision.result;
      // decided on the cached state without writing: the answer stands if nobody wrote since
      const current = await read();
      if (current.revision === loaded.revision) return decision.result;
      ctx.states.delete(target.key);
      loaded = current;
      continue;
    }
    if (await saveState(ctx, target.key, loaded.revision, after)) return decision.result;
    if (attempt > 0) await pause(attempt);
    loaded = await read();
  }
  throw new CebusError(
    "aborted",
    `nats: the delivery state of subscription '${target.subscription}' partition ${target.partition} changed ` +
      `under ${maxAttempts} attempts in a row (other broker processes write it); retry`,
    { retryAfterMs: 100 },
  );
}

/** The state this process wrote last, or a fresh read when there is none. */
async function cachedState(ctx: NatsContext, target: Target): Promise<LoadedState> {
  const cached = ctx.states.get(target.key);
  if (cached) return { revision: cached.revision, state: cached.state, cached: true };
  return loadState(ctx, target.subscription, target.partition);
}

/** Writes a state if its value is still at `revision`; false (the cache forgotten) when another writer was first. */
async function saveState(
  ctx: NatsContext,
  key: string,
  revision: number,
  state: PartitionDeliveryState,
): Promise<boolean> {
  try {
    const ack = await ctx.fast.publish(ctx.names.metaSubject(key), encodeState(state), {
      expectLastSubjectSequence: revision,
    });
    ctx.states.set(key, { revision: ack.seq, state });
    return true;
  } catch (error) {
    ctx.states.delete(key);
    if ((error instanceof JsApiError && error.code === 10071) || isConflict(error)) return false;
    throw error;
  }
}

/** Writes the first state of each partition of a new subscription (index = partition). */
export async function createStates(ctx: NatsContext, subscription: string, cursors: number[]): Promise<void> {
  forgetStates(ctx, subscription);
  await Promise.all(
    cursors.map((cursor, partition) =>
      ctx.meta.put(ctx.names.stateKey(subscription, partition), encodeState({ cursor, leases: [] })),
    ),
  );
}

/** Forgets the cached states of a subscription (after it was deleted or created again). */
export function forgetStates(ctx: NatsContext, subscription: string): void {
  const prefix = `${ctx.names.statePrefix(subscription)}.`;
  for (const key of ctx.states.keys()) if (key.startsWith(prefix)) ctx.states.delete(key);
}

/** A jittered wait that grows with the attempt, so competing processes stop colliding. */
function pause(attempt: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(50, 2 ** attempt)));
}

/** Runs `task` after the earlier tasks of this store on the same key (a state value) are done. */
function serialized<T>(
  queues: Map<string, Promise<unknown>>,
  key: string,
  task: () => Promise<T>,
): Promise<T> {
  const previous = queues.get(key) ?? Promise.resolve();
  const next = previous.then(task, task);
  const settled = next.catch(() => {});
  queues.set(key, settled);
  void settled.then(() => {
    if (queues.get(key) === settled) queues.delete(key);
  });
  return next;
}
