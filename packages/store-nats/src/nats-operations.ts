import type {
  ClaimRequest,
  ClaimResult,
  LeaseRef,
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
  maxWakeInstants,
  partitionCounts,
  partitionsOf,
  requeue as requeueRule,
  seekPartition,
  settleAcross,
  sumCounts,
  withRemoteEvents,
} from "@cebus/store/delivery";
import { clearDeadLetterMarks, deadLetterIds } from "./dead-letter-marks.js";
import { appendDeadLetters, raiseDedupeFloor } from "./nats-append.js";
import { type NatsContext, subscriptionMissing } from "./nats-context.js";
import { changeState, type Decision, loadState, loadStates } from "./nats-delivery.js";
import { remoteEvents, retainedRange, streamState, trimLog } from "./nats-log.js";
import { getSubscription, listSubscriptions, requireSubscription } from "./nats-subscriptions.js";
import { getTopic, partitionCount, requireTopic } from "./nats-topics.js";

/**
 * The delivery operations of the NATS store: each changes the delivery state of one subscription partition at a
 * time (nats-delivery.ts: load, let the delivery rules decide, save by compare-and-set, decide again on a
 * conflict). The rules read the log through `withRemoteEvents` over the partition's stream.
 */

export async function claim(ctx: NatsContext, request: ClaimRequest): Promise<ClaimResult> {
  if (request.max <= 0) return [];
  const remote = remoteEvents(ctx, request.topic, request.partition);
  return changeState(ctx, request.subscription, request.partition, async (state) => {
    if (!state) throw subscriptionMissing(request.subscription);
    const outcome = await withRemoteEvents(remote, (events) => claimRule(state, claimInput(request), events));
    return { state: outcome.state, result: claimResult(outcome) };
  });
}

/**
 * Settles per partition, each in one compare-and-set. With `allOrNothing` over several partitions (whose values
 * cannot change together) all leases are checked first on fresh states, then each partition is settled with its
 * own leases all or nothing: a lease another process settles between the check and the save stays `false`, and the
 * other partitions are settled all the same (the window is one round trip; one process never competes with
 * itself, since a lease is settled by the consumer that holds it).
 */
export async function settle(
  ctx: NatsContext,
  ref: SubscriptionRef,
  action: SettleAction,
): Promise<boolean[]> {
  if (action.leases.length === 0) return [];
  const partitions = partitionsOf(action.leases);
  if (action.allOrNothing && partitions.length > 1) {
    const checked = await checkAll(ctx, ref.subscription, partitions, action);
    if (checked.some((match) => !match)) return checked;
  }
  const matches: boolean[] = new Array(action.leases.length).fill(false);
  const visibleAt = new Set<number>();
  await Promise.all(
    partitions.map(async (partition) => {
      const indexes = action.leases.flatMap((lease, i) => (lease.partition === partition ? [i] : []));
      const part = await settlePartition(ctx, ref.subscription, partition, subAction(action, indexes));
      indexes.forEach((index, j) => {
        matches[index] = part.matches[j] ?? false;
      });
      for (const at of part.visibleAt) visibleAt.add(at);
    }),
  );
  const instants = [...visibleAt].sort((a, b) => a - b).slice(0, maxWakeInstants);
  for (const at of instants) ctx.announce({ topic: ref.topic, subscription: ref.subscription, at });
  return matches;
}

/** Whether each lease matches, on fresh states of every partition named. */
async function checkAll(
  ctx: NatsContext,
  subscription: string,
  partitions: number[],
  action: SettleAction,
): Promise<boolean[]> {
  const loaded = await Promise.all(partitions.map((p) => loadState(ctx, subscription, p)));
  const states = new Map(partitions.map((p, i) => [p, loaded[i]?.state]));
  return settleAcross((partition) => states.get(partition), action).matches;
}

/** The part of a settle on the leases at `indexes` (and their dead letters). */
function subAction(action: SettleAction, indexes: number[]): SettleAction {
  const { deadLetter } = action;
  return {
    ...action,
    leases: indexes.map((i) => action.leases[i] as LeaseRef),
    deadLetter: deadLetter && {
      topic: deadLetter.topic,
      events: indexes.flatMap((i) => (deadLetter.events[i] ? [deadLetter.events[i]] : [])),
    },
  };
}

/** What a settle of one partition decided: per lease whether it matched, and when nacked ones are visible again. */
interface PartitionSettled {
  matches: boolean[];
  visibleAt: number[];
}

/**
 * Settles leases of one partition. A term with dead letters decides on a freshly read state, appends the dead
 * letters of the leases that match under ids unique to each lease, then saves: when the save loses to another
 * process the term is decided again, and a dead letter appended again is the same message id, which the stream's
 * duplicate window stores once. Left: a lease that stops matching between the read and the save (within that round trip
 * another process settles the same delivery id, or a seek drops the lease) had its dead letter appended for
 * nothing; a save that loses only to another lease's change decides again and keeps it.
 */
async function settlePartition(
  ctx: NatsContext,
  subscription: string,
  partition: number,
  action: SettleAction,
): Promise<PartitionSettled> {
  const withDeadLetters = action.kind === "term" && action.deadLetter !== undefined;
  let marked: number[] = [];
  const settled = await changeState(
    ctx,
    subscription,
    partition,
    async (state): Promise<Decision<PartitionSettled>> => {
      const outcome = settleAcross((p) => (p === partition ? state : undefined), action);
      if (outcome.deadLetters.length > 0 && action.deadLetter) {
        const matched = action.leases.filter((_, i) => outcome.matches[i]);
        const ids = await deadLetterIds(ctx, subscription, partition, matched);
        marked = matched.map((lease) => lease.offset);
        await appendDeadLetters(ctx, action.deadLetter.topic, outcome.deadLetters, ids, action.now);
      }
      const result = { matches: outcome.matches, visibleAt: outcome.visibleAt };
      return { state: outcome.states.get(partition), result };
    },
    { fresh: withDeadLetters },
  );
  if (marked.length > 0) await clearDeadLetterMarks(ctx, subscription, partition, marked);
  return settled;
}

export async function requeue(
  ctx: NatsContext,
  ref: SubscriptionRef,
  refs: { partition: number; offset: number }[],
  now: number,
): Promise<number> {
  await requireSubscription(ctx, ref.subscription);
  const counts = await Promise.all(
    [...byPartition(refs)].map(([partition, offsets]) => {
      const remote = remoteEvents(ctx, ref.topic, partition);
      return changeState(ctx, ref.subscription, partition, async (state) => {
        if (!state) return { result: 0 };
        const outcome = await withRemoteEvents(remote, (events) => requeueRule(state, offsets, now, events));
        return { state: outcome.state, result: outcome.count };
      });
    }),
  );
  const count = counts.reduce((sum, n) => sum + n, 0);
  if (count > 0) ctx.announce({ topic: ref.topic, subscription: ref.subscription, at: now });
  return count;
}

/** Moves the given cursors (index = partition) and drops every lease of every partition. */
export async function seek(ctx: NatsContext, ref: SubscriptionRef, cursors: number[]): Promise<void> {
  await requireSubscription(ctx, ref.subscription);
  const topic = await getTopic(ctx, ref.topic);
  const count = Math.max(topic ? partitionCount(topic) : 0, cursors.length);
  await Promise.all(
    Array.from({ length: count }, (_, partition) =>
      changeState(ctx, ref.subscription, partition, (state) => ({
        state: seekPartition(state, cursors[partition]),
        result: undefined,
      })),
    ),
  );
  ctx.announce({ topic: ref.topic, subscription: ref.subscription });
}

export async function subscriptionCounts(
  ctx: NatsContext,
  subscription: string,
  now: number,
): Promise<SubscriptionCounts> {
  const none = { backlog: 0, inFlight: 0, oldestUnackedPublishTime: undefined };
  const sub = await getSubscription(ctx, subscription);
  const topic = sub && (await getTopic(ctx, sub.topic, true));
  if (!sub || !topic) return none;
  const count = partitionCount(topic);
  const [loaded, streams] = await Promise.all([
    loadStates(ctx, subscription, count),
    Promise.all(Array.from({ length: count }, (_, p) => streamState(ctx, sub.topic, p))),
  ]);
  const parts = await Promise.all(
    loaded.map(({ state }, p) => {
      if (!state) return none;
      const range = retainedRange(streams[p] as (typeof streams)[number]);
      const remote = remoteEvents(ctx, sub.topic, p, range.startOffset);
      return withRemoteEvents(remote, (events) => partitionCounts(state, range, now, events));
    }),
  );
  return sumCounts(parts);
}

/** Retention on the log, then the waiting leases of removed events dropped from the topic's subscriptions. */
export async function trim(
  ctx: NatsContext,
  name: string,
  options: { olderThan: number; maxBytes: number; dedupeBefore: number },
): Promise<number> {
  const topic = await requireTopic(ctx, name);
  const trimmed = await trimLog(ctx, name, partitionCount(topic), options);
  await raiseDedupeFloor(ctx, name, options.dedupeBefore);
  if (trimmed.size === 0) return 0;
  const subscriptions = await listSubscriptions(ctx, name);
  await Promise.all(
    subscriptions.flatMap((sub) =>
      [...trimmed].map(([partition, { startOffset }]) => {
        const remote = remoteEvents(ctx, name, partition, startOffset);
        return changeState(ctx, sub.name, partition, async (state) => {
          if (!state) return { result: undefined };
          return {
            state: await withRemoteEvents(remote, (events) => dropRemoved(state, events)),
            result: undefined,
          };
        });
      }),
    ),
  );
  let removed = 0;
  for (const part of trimmed.values()) removed += part.removed;
  return removed;
}
