import { CebusError } from "@cebus/core";
import type { SettleAction, SubscriptionRef } from "@cebus/store";
import {
  type PartitionDeliveryState,
  partitionsOf,
  type SubscriptionSettleOutcome,
  settleAcross,
} from "@cebus/store/delivery";
import { conflict, optimistic } from "./optimistic.js";
import { type RedisContext, topicMissing } from "./redis-context.js";
import { commit, type LoadedState, loadStates } from "./redis-delivery.js";

/**
 * Settle on the Redis store. Settles of this instance that wait for the same subscription partitions are taken
 * together: the rules settle them one after the other, in arrival order, on the states as the previous one left
 * them (`settleAcross` each), and one compare-and-set commits the lot, so many single-lease acks of a partition
 * cost one state write, as a batch would. A term with dead letters runs alone: its copies are appended in its
 * own compare-and-set.
 */

interface Waiting {
  action: SettleAction;
  resolve(matches: boolean[]): void;
  reject(error: unknown): void;
}

/** The settles queued per set of state keys, until the batch they form starts. */
const queues = new WeakMap<RedisContext, Map<string, Waiting[]>>();

export function settle(
  context: RedisContext,
  ref: SubscriptionRef,
  action: SettleAction,
): Promise<boolean[]> {
  if (action.leases.length === 0) return Promise.resolve([]);
  const partitions = partitionsOf(action.leases);
  const keys = partitions.map((p) => context.keys.state(ref.topic, ref.subscription, p));
  return new Promise((resolve, reject) => {
    const waiting: Waiting = { action, resolve, reject };
    if (action.deadLetter) return void runBatch(context, ref, keys, partitions, [waiting]);
    const open = queuesOf(context);
    const id = keys.join("\n");
    const queue = open.get(id);
    if (queue) return void queue.push(waiting);
    const batch = [waiting];
    open.set(id, batch);
    void runBatch(context, ref, keys, partitions, batch, () => {
      if (open.get(id) === batch) open.delete(id); // later settles form the next batch
    });
  });
}

function queuesOf(context: RedisContext): Map<string, Waiting[]> {
  let open = queues.get(context);
  if (!open) {
    open = new Map();
    queues.set(context, open);
  }
  return open;
}

async function runBatch(
  context: RedisContext,
  ref: SubscriptionRef,
  keys: string[],
  partitions: number[],
  batch: Waiting[],
  close = () => {},
): Promise<void> {
  try {
    const outcomes = await optimistic(context, keys, "settle", async (fresh) => {
      close();
      const { states } = await loadStates(context, keys, { fromCache: !fresh });
      return settleBatch(context, partitions, states, batch);
    });
    batch.forEach((waiting, i) => {
      const outcome = outcomes[i] as SubscriptionSettleOutcome;
      announce(context, ref, waiting.action, outcome);
      waiting.resolve(outcome.matches);
    });
  } catch (error) {
    for (const waiting of batch) waiting.reject(error);
  }
}

/** Settles the batch one action after the other and commits the states they leave; conflict when one changed. */
async function settleBatch(
  context: RedisContext,
  partitions: number[],
  states: LoadedState[],
  batch: Waiting[],
): Promise<SubscriptionSettleOutcome[] | typeof conflict> {
  const current = new Map<number, PartitionDeliveryState | undefined>(
    partitions.map((p, i) => [p, states[i]?.state]),
  );
  const outcomes = batch.map(({ action }) => {
    const decided = settleAcross((p) => current.get(p), action);
    for (const [p, after] of decided.states) current.set(p, after);
    return decided;
  });
  const writes = partitions.map((p, i) => ({ loaded: states[i] as LoadedState, after: current.get(p) }));
  const deadLetter =
    batch.length === 1 ? deadLetterAppend(context, batch[0]?.action, outcomes[0]) : undefined;
  try {
    const done = await commit(context, writes, deadLetter ? { append: deadLetter } : {});
    return done === undefined ? conflict : outcomes;
  } catch (error) {
    const target = batch[0]?.action.deadLetter?.topic;
    if (deadLetter && target && error instanceof CebusError && error.code === "not_found") {
      throw topicMissing(target);
    }
    throw error;
  }
}

/** A term's dead-letter copies of its matched leases, to append to the dead-letter topic with the states. */
function deadLetterAppend(
  context: RedisContext,
  action: SettleAction | undefined,
  outcome: SubscriptionSettleOutcome | undefined,
) {
  const target = action?.deadLetter?.topic;
  if (!action || !outcome || target === undefined || outcome.deadLetters.length === 0) return undefined;
  return { base: context.keys.base(target), now: action.now, events: outcome.deadLetters };
}

function announce(
  context: RedisContext,
  ref: SubscriptionRef,
  action: SettleAction,
  outcome: SubscriptionSettleOutcome,
): void {
  for (const at of outcome.visibleAt)
    context.announce({ topic: ref.topic, subscription: ref.subscription, at });
  if (outcome.deadLetters.length > 0 && action.deadLetter) {
    context.announce({ topic: action.deadLetter.topic });
  }
}
