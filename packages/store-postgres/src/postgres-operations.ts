import { CebusError } from "@cebus/core";
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
  withRemoteEvents,
} from "@cebus/store/delivery";
import { notify, type PgClient, type Tx } from "./postgres-client.js";
import {
  type LoadedState,
  loadStates,
  lockTopicStates,
  type StateCache,
  type StateChange,
  saveStates,
} from "./postgres-delivery.js";
import {
  type Query,
  queryOn,
  type ReadAhead,
  readAhead,
  remoteEvents,
  withReadAhead,
} from "./postgres-events.js";
import { appendIn, partitionStats, trimLog } from "./postgres-log.js";

/**
 * The delivery operations on PostgreSQL: each locks the states it needs, lets the delivery rules decide (reading
 * the log through `withRemoteEvents`) and writes what changed, in one transaction.
 */
export interface Delivery {
  pg: PgClient;
  cache: StateCache;
}

export function subscriptionMissing(name: string): CebusError {
  return new CebusError("not_found", `subscription '${name}' does not exist; create it first`, {
    field: "subscription",
  });
}

const lockIn = (tx: Tx, d: Delivery, ref: SubscriptionRef, partitions?: readonly number[]) =>
  loadStates(queryOn(tx.client), d.cache, { ...ref, ...(partitions ? { partitions } : {}), lock: true });

const changeOf = (loaded: LoadedState, after: LoadedState["state"]): StateChange => ({
  subscription: loaded.subscription,
  partition: loaded.partition,
  before: loaded.state,
  after,
});

/** Store.claim: the partition's state locked, the rules run over the log, the new state written. */
export function claim(d: Delivery, request: ClaimRequest): Promise<ClaimResult> {
  if (request.max <= 0) return Promise.resolve([]);
  return d.pg.tx(async (tx) => {
    const [loaded] = await lockIn(tx, d, request, [request.partition]);
    if (!loaded) throw subscriptionMissing(request.subscription);
    const log = { topic: request.topic, partition: request.partition, startOffset: loaded.startOffset };
    const outcome = await withRemoteEvents(remoteEvents(queryOn(tx.client), log, true), (events) =>
      claimRule(loaded.state, claimInput(request), events),
    );
    await saveStates(tx, d.cache, [changeOf(loaded, outcome.state)]);
    return claimResult(outcome);
  });
}

/** Store.settle: the named partitions locked in order; a term's dead letters appended in the same transaction. */
export function settle(d: Delivery, ref: SubscriptionRef, action: SettleAction): Promise<boolean[]> {
  if (action.leases.length === 0) return Promise.resolve([]);
  return d.pg.tx(async (tx) => {
    const partitions = partitionsOf(action.leases).sort((a, b) => a - b);
    const loaded = new Map((await lockIn(tx, d, ref, partitions)).map((s) => [s.partition, s]));
    const outcome = settleAcross((partition) => loaded.get(partition)?.state, action);
    if (outcome.deadLetters.length > 0 && action.deadLetter) {
      const options = { now: action.now, dedupeSince: action.now + 1 };
      await appendIn(tx.client, action.deadLetter.topic, outcome.deadLetters, options);
    }
    const changes = [...outcome.states].map(([p, after]) => changeOf(loaded.get(p) as LoadedState, after));
    await saveStates(tx, d.cache, changes);
    for (const at of outcome.visibleAt) await notify(tx.client, { ...ref, at });
    return outcome.matches;
  });
}

/** Store.requeue (dead-letter redrive), partition by partition in one transaction. */
export function requeue(
  d: Delivery,
  ref: SubscriptionRef,
  refs: { partition: number; offset: number }[],
  now: number,
): Promise<number> {
  return d.pg.tx(async (tx) => {
    const groups = byPartition(refs);
    const states = await lockIn(
      tx,
      d,
      ref,
      [...groups.keys()].sort((a, b) => a - b),
    );
    if (states.length === 0 && !(await subscriptionExists(tx, ref.subscription))) {
      throw subscriptionMissing(ref.subscription);
    }
    let count = 0;
    const changes: StateChange[] = [];
    for (const loaded of states) {
      const log = { topic: ref.topic, partition: loaded.partition, startOffset: loaded.startOffset };
      const offsets = groups.get(loaded.partition) ?? [];
      const outcome = await withRemoteEvents(remoteEvents(queryOn(tx.client), log, false), (events) =>
        requeueRule(loaded.state, offsets, now, events),
      );
      changes.push(changeOf(loaded, outcome.state));
      count += outcome.count;
    }
    await saveStates(tx, d.cache, changes);
    if (count > 0) await notify(tx.client, { ...ref, at: now });
    return count;
  });
}

async function subscriptionExists(tx: Tx, name: string): Promise<boolean> {
  const result = await tx.client.query("SELECT 1 FROM cebus_subscriptions WHERE name = $1", [name]);
  return (result.rowCount ?? 0) > 0;
}

/** Store.seek: the given cursors (index = partition) set, every lease of every partition dropped. */
export function seek(d: Delivery, ref: SubscriptionRef, cursors: number[]): Promise<void> {
  return d.pg.tx(async (tx) => {
    const states = await lockIn(tx, d, ref);
    if (states.length === 0 && !(await subscriptionExists(tx, ref.subscription))) return;
    const byIndex = new Map(states.map((s) => [s.partition, s]));
    const count = Math.max(cursors.length, ...states.map((s) => s.partition + 1));
    const changes: StateChange[] = [];
    for (let partition = 0; partition < count; partition++) {
      const cursor = cursors[partition];
      const before = byIndex.get(partition)?.state;
      const after = seekPartition(before, cursor);
      if (!after) continue;
      changes.push({ subscription: ref.subscription, partition, before, after });
    }
    await saveStates(tx, d.cache, changes);
    await notify(tx.client, ref);
  });
}

/** Store.subscriptionStats: the states read (not locked), the events they name read ahead in one query. */
export async function subscriptionCounts(
  d: Delivery,
  name: string,
  now: number,
): Promise<SubscriptionCounts> {
  const [row] = await d.pg.query("SELECT topic FROM cebus_subscriptions WHERE name = $1", [name]);
  if (!row) return { backlog: 0, inFlight: 0, oldestUnackedPublishTime: undefined };
  const topic = row.topic as string;
  const [states, ranges] = await Promise.all([
    loadStates(d.pg.query, d.cache, { subscription: name, topic, lock: false }),
    partitionStats(d.pg, topic),
  ]);
  const gone = { startOffset: Number.MAX_SAFE_INTEGER, endOffset: Number.MAX_SAFE_INTEGER };
  const rangeOf = (partition: number) => ranges[partition] ?? gone;
  const ahead = await readAhead(
    d.pg.query,
    topic,
    states.map((s) => ({
      partition: s.partition,
      offsets: s.state.leases.map((lease) => lease.offset),
      firstFrom: Math.max(s.state.cursor, rangeOf(s.partition).startOffset),
    })),
  );
  const parts = await Promise.all(
    states.map((s) => {
      const range = rangeOf(s.partition);
      const remote = retainedRemote(d.pg.query, topic, s, range.startOffset, ahead.get(s.partition));
      return withRemoteEvents(remote, (events) => partitionCounts(s.state, range, now, events));
    }),
  );
  return sumCounts(parts);
}

function retainedRemote(
  query: Query,
  topic: string,
  loaded: LoadedState,
  startOffset: number,
  ahead: ReadAhead | undefined,
) {
  const remote = remoteEvents(query, { topic, partition: loaded.partition, startOffset }, false);
  return ahead ? withReadAhead(remote, ahead) : remote;
}

/**
 * Store.trim: retention on the log, then the waiting leases of removed events dropped from the topic's
 * subscriptions (the rules' `dropRemoved`), in one transaction.
 */
export function trim(
  d: Delivery,
  topic: string,
  options: { olderThan: number; maxBytes: number; dedupeBefore: number },
): Promise<number> {
  return d.pg.tx(async (tx) => {
    const trimmed = await trimLog(tx.client, topic, options);
    if (trimmed.size === 0) return 0;
    const states = await lockTopicStates(tx.client, d.cache, topic, [...trimmed.keys()]);
    const query = queryOn(tx.client);
    const ahead = await readAhead(query, topic, leasedOffsets(states));
    const changes: StateChange[] = [];
    for (const loaded of states) {
      const remote = retainedRemote(
        query,
        topic,
        loaded,
        loaded.startOffset ?? 0,
        ahead.get(loaded.partition),
      );
      const after = await withRemoteEvents(remote, (events) => dropRemoved(loaded.state, events));
      changes.push(changeOf(loaded, after));
    }
    await saveStates(tx, d.cache, changes);
    let removed = 0;
    for (const count of trimmed.values()) removed += count;
    return removed;
  });
}

/** Per partition, the offsets any of the states leases (what `dropRemoved` asks about). */
function leasedOffsets(states: readonly LoadedState[]) {
  const byPartitionOffsets = new Map<number, Set<number>>();
  for (const loaded of states) {
    const offsets = byPartitionOffsets.get(loaded.partition) ?? new Set<number>();
    for (const lease of loaded.state.leases) offsets.add(lease.offset);
    byPartitionOffsets.set(loaded.partition, offsets);
  }
  return [...byPartitionOffsets].map(([partition, offsets]) => ({ partition, offsets: [...offsets] }));
}
