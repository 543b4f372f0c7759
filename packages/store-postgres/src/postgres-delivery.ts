import { decodeState, encodeState, initialState, type PartitionDeliveryState } from "@cebus/store/delivery";
import type { ClientBase } from "pg";
import { n, type Row, type Tx } from "./postgres-client.js";
import type { Query } from "./postgres-events.js";

/**
 * The persistence of delivery state: one `cebus_delivery_states` row per (subscription, partition), holding the
 * cursor and the leases as `@cebus/store/delivery` encodes them. An operation locks the rows it decides on
 * (`SELECT ... FOR UPDATE`, in subscription and partition order, so two operations never deadlock on them), lets
 * the rules decide, and writes the changed rows in the same transaction: concurrent brokers take turns on a
 * partition, and each sees what the previous one committed.
 *
 * Every write gives the row a new `version` from one sequence, never reused. Each store keeps the states it decoded
 * with their version (`StateCache`): a load tells the database the version it holds, and gets the state back only
 * when the row has another one (written by another broker), so a broker that is alone on a partition never decodes.
 * The cache learns a write only once its transaction committed.
 */

export interface CachedState {
  version: string;
  state: PartitionDeliveryState;
}

/** Decoded states of one store, by subscription and partition (`stateKey`). */
export type StateCache = Map<string, CachedState>;

export const stateKey = (subscription: string, partition: number) => `${subscription}\u0000${partition}`;

/** A state as loaded: its partition, the version it was read at, the retained start of its log partition. */
export interface LoadedState {
  subscription: string;
  partition: number;
  version: string;
  state: PartitionDeliveryState;
  /** The partition's first retained offset (undefined when the topic is gone). */
  startOffset: number | undefined;
}

export interface StateQuery {
  subscription: string;
  topic: string;
  /** Only these partitions (default: all of the subscription). */
  partitions?: readonly number[];
  /** Lock the rows until the transaction ends (claim, settle, requeue, seek); counts read without. */
  lock: boolean;
}

/** The states of one subscription, in partition order, locked when asked; a partition without a row is left out. */
export async function loadStates(query: Query, cache: StateCache, q: StateQuery): Promise<LoadedState[]> {
  const known = [...(q.partitions ?? knownPartitions(cache, q.subscription))].flatMap((partition) => {
    const cached = cache.get(stateKey(q.subscription, partition));
    return cached ? [[partition, cached.version] as const] : [];
  });
  const rows = await query(
    `SELECT d.partition, d.version, CASE WHEN d.version = k.v THEN NULL ELSE d.state END AS state, p.start_offset
       FROM cebus_delivery_states d
       LEFT JOIN unnest($3::int[], $4::bigint[]) AS k(p, v) ON k.p = d.partition
       LEFT JOIN cebus_partitions p ON p.topic = $2 AND p.partition = d.partition
      WHERE d.subscription = $1 AND ($5::int[] IS NULL OR d.partition = ANY($5::int[]))
      ORDER BY d.partition${q.lock ? " FOR UPDATE OF d" : ""}`,
    [
      q.subscription,
      q.topic,
      known.map((k) => k[0]),
      known.map((k) => k[1]),
      q.partitions ? [...q.partitions] : null,
    ],
  );
  const loaded = rows.map((row) => fromRow(cache, q.subscription, row));
  if (loaded.every((state) => state !== undefined)) return loaded as LoadedState[];
  // a cached version the row has, but the cache no longer holds (the subscription was deleted meanwhile): read all
  for (const partition of known.map((k) => k[0])) cache.delete(stateKey(q.subscription, partition));
  return loadStates(query, cache, q);
}

/** The partitions of a subscription the cache knows about (their states may have changed since). */
function knownPartitions(cache: StateCache, subscription: string): number[] {
  const partitions: number[] = [];
  for (let partition = 0; cache.has(stateKey(subscription, partition)); partition++)
    partitions.push(partition);
  return partitions;
}

/** Locks the states of every subscription of a topic on the given partitions (retention), in key order. */
export async function lockTopicStates(
  client: ClientBase,
  cache: StateCache,
  topic: string,
  partitions: readonly number[],
): Promise<LoadedState[]> {
  const result = await client.query(
    `SELECT d.subscription, d.partition, d.version, d.state, p.start_offset
       FROM cebus_delivery_states d
       JOIN cebus_subscriptions s ON s.name = d.subscription AND s.topic = $1
       LEFT JOIN cebus_partitions p ON p.topic = $1 AND p.partition = d.partition
      WHERE d.partition = ANY($2::int[])
      ORDER BY d.subscription, d.partition FOR UPDATE OF d`,
    [topic, [...partitions]],
  );
  return (result.rows as Row[]).map((row) => fromRow(cache, row.subscription as string, row) as LoadedState);
}

/** The row as a state: decoded (and remembered), or the cached one when the row is at the cached version. */
function fromRow(cache: StateCache, subscription: string, row: Row): LoadedState | undefined {
  const partition = n(row.partition);
  const version = String(row.version);
  const key = stateKey(subscription, partition);
  let state: PartitionDeliveryState;
  if (row.state === null) {
    const cached = cache.get(key);
    if (!cached || cached.version !== version) return undefined;
    state = cached.state;
  } else {
    state = decodeState(row.state as Buffer);
    cache.set(key, { version, state });
  }
  const startOffset = row.start_offset === null ? undefined : n(row.start_offset);
  return { subscription, partition, version, state, startOffset };
}

/** A state to write: the loaded one (if any) and the one the rules returned. */
export interface StateChange {
  subscription: string;
  partition: number;
  before: PartitionDeliveryState | undefined;
  after: PartitionDeliveryState;
}

/**
 * Writes, in one statement, the states the rules changed (they return the very state given when nothing changed),
 * each with a new version; the cache learns them when the transaction commits.
 */
export async function saveStates(tx: Tx, cache: StateCache, changes: readonly StateChange[]): Promise<void> {
  const changed = changes.filter((change) => change.before !== change.after);
  if (changed.length === 0) return;
  const result = await tx.client.query(
    `INSERT INTO cebus_delivery_states (subscription, partition, version, state)
       SELECT s, p, nextval('cebus_delivery_state_versions'), b FROM unnest($1::text[], $2::int[], $3::bytea[]) AS t(s, p, b)
     ON CONFLICT (subscription, partition) DO UPDATE SET version = EXCLUDED.version, state = EXCLUDED.state
     RETURNING subscription, partition, version`,
    [
      changed.map((c) => c.subscription),
      changed.map((c) => c.partition),
      changed.map((c) => Buffer.from(encodeState(c.after))),
    ],
  );
  const versions = new Map(
    (result.rows as Row[]).map((r) => [
      stateKey(r.subscription as string, n(r.partition)),
      String(r.version),
    ]),
  );
  tx.afterCommit(() => {
    for (const change of changed) {
      const key = stateKey(change.subscription, change.partition);
      const version = versions.get(key);
      if (version !== undefined) cache.set(key, { version, state: change.after });
    }
  });
}

/** The states of a new subscription: each partition at its cursor with no lease. */
export async function createStates(tx: Tx, cache: StateCache, subscription: string, cursors: number[]) {
  const changes = cursors.map((cursor, partition) => ({
    subscription,
    partition,
    before: undefined,
    after: initialState(cursor),
  }));
  await saveStates(tx, cache, changes);
}

/** Forgets a deleted subscription's states (its rows go with it: ON DELETE CASCADE). */
export function forgetStates(cache: StateCache, subscription: string): void {
  for (const key of cache.keys()) if (key.startsWith(`${subscription}\u0000`)) cache.delete(key);
}
