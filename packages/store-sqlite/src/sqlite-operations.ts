import type {
  ClaimRequest,
  ClaimResult,
  SettleAction,
  SubscriptionCounts,
  SubscriptionRef,
} from "@cebus/store";
import {
  byPartition,
  claimInput,
  claimResult,
  claim as claimRule,
  dropRemoved,
  partitionCounts,
  partitionsOf,
  requeue as requeueRule,
  seekPartition,
  settleAcross,
  sumCounts,
} from "@cebus/store/delivery";
import type { Db } from "./sqlite-db.js";
import {
  loadState,
  loadStates,
  saveState,
  subscriptionMissing,
  subscriptionsOf,
  topicOf,
} from "./sqlite-delivery.js";
import { append, eventReader, partitionRows, trimLog } from "./sqlite-log.js";

/**
 * The delivery operations of the embedded store: each loads the states it needs, lets the delivery rules decide,
 * and saves what changed, in one transaction.
 */

export function claim(db: Db, request: ClaimRequest): ClaimResult {
  if (request.max <= 0) return [];
  const state = loadState(db, request.subscription, request.partition);
  if (!state) throw subscriptionMissing(request.subscription);
  const outcome = claimRule(state, claimInput(request), eventReader(db, request.topic, request.partition));
  saveState(db, request.subscription, request.partition, state, outcome.state);
  return claimResult(outcome);
}

/** Settles through the rules; a term's dead letters are appended in the same transaction. */
export function settle(db: Db, subscription: string, action: SettleAction): boolean[] {
  const states = new Map(partitionsOf(action.leases).map((p) => [p, loadState(db, subscription, p)]));
  const outcome = settleAcross((partition) => states.get(partition), action);
  if (outcome.deadLetters.length > 0 && action.deadLetter) {
    const options = { now: action.now, dedupeSince: action.now + 1 };
    append(db, action.deadLetter.topic, outcome.deadLetters, options);
  }
  for (const [partition, after] of outcome.states) {
    saveState(db, subscription, partition, states.get(partition), after);
  }
  return outcome.matches;
}

export function requeue(
  db: Db,
  ref: SubscriptionRef,
  refs: { partition: number; offset: number }[],
  now: number,
): number {
  if (topicOf(db, ref.subscription) === undefined) throw subscriptionMissing(ref.subscription);
  let count = 0;
  for (const [partition, offsets] of byPartition(refs)) {
    const state = loadState(db, ref.subscription, partition);
    if (!state) continue;
    const outcome = requeueRule(state, offsets, now, eventReader(db, ref.topic, partition));
    saveState(db, ref.subscription, partition, state, outcome.state);
    count += outcome.count;
  }
  return count;
}

/** Moves the given cursors (index = partition) and drops every lease of every partition. */
export function seek(db: Db, subscription: string, cursors: number[]): void {
  if (topicOf(db, subscription) === undefined) return;
  const states = loadStates(db, subscription);
  const count = Math.max(states.length, cursors.length);
  for (let partition = 0; partition < count; partition++) {
    const cursor = cursors[partition];
    const state = states[partition];
    const after = seekPartition(state, cursor);
    if (!after) continue;
    saveState(db, subscription, partition, state, after);
  }
}

export function subscriptionCounts(db: Db, subscription: string, now: number): SubscriptionCounts {
  const topic = topicOf(db, subscription);
  if (topic === undefined) return { backlog: 0, inFlight: 0, oldestUnackedPublishTime: undefined };
  const ranges = partitionRows(db, topic);
  const parts = loadStates(db, subscription).flatMap((state, partition) => {
    if (!state) return [];
    const range = ranges[partition] ?? {
      startOffset: Number.MAX_SAFE_INTEGER,
      endOffset: Number.MAX_SAFE_INTEGER,
    };
    return [partitionCounts(state, range, now, eventReader(db, topic, partition))];
  });
  return sumCounts(parts);
}

/** Retention on the log, then the waiting leases of removed events dropped from the topic's subscriptions. */
export function trim(
  db: Db,
  topic: string,
  options: { olderThan: number; maxBytes: number; dedupeBefore: number },
): number {
  const trimmed = trimLog(db, topic, options);
  let removed = 0;
  for (const count of trimmed.values()) removed += count;
  if (removed === 0) return 0;
  for (const subscription of subscriptionsOf(db, topic)) {
    for (const partition of trimmed.keys()) {
      const state = loadState(db, subscription, partition);
      if (!state) continue;
      saveState(db, subscription, partition, state, dropRemoved(state, eventReader(db, topic, partition)));
    }
  }
  return removed;
}
