import { CebusError } from "@cebus/core";
import { decodeState, encodeState, initialState, type PartitionDeliveryState } from "@cebus/store/delivery";
import type { Db, Row } from "./sqlite-db.js";

/**
 * The persistence of delivery state: one `delivery_states` row per (subscription, partition), holding the cursor
 * and the leases as `@cebus/store/delivery` encodes them. Read and written whole, inside the transaction of the
 * operation (claim, settle, requeue, seek, trim) that decides on it, so each operation is atomic.
 *
 * Decoded states are kept in memory per store (`cacheOf`): the database is owned by this one process (an exclusive
 * lock, see open-database.ts), and every write of a row goes through `saveState` or `deleteStates`, so the cache
 * is the row as committed or as written by the open transaction. A rollback forgets the whole cache. The rules
 * never change a state they are given, so a cached state is shared safely. Encoding remains on every change.
 */

type StateCache = Map<string, Map<number, PartitionDeliveryState>>;

const caches = new WeakMap<Db, StateCache>();

/** The decoded states of one store's database, by subscription and partition. */
function cacheOf(db: Db): StateCache {
  let cache = caches.get(db);
  if (!cache) {
    const created: StateCache = new Map();
    db.onRollback(() => created.clear());
    caches.set(db, created);
    cache = created;
  }
  return cache;
}

function remember(db: Db, subscription: string, partition: number, state: PartitionDeliveryState): void {
  const cache = cacheOf(db);
  let partitions = cache.get(subscription);
  if (!partitions) {
    partitions = new Map();
    cache.set(subscription, partitions);
  }
  partitions.set(partition, state);
}

/** The state of one subscription partition, or undefined when the subscription has no such partition. */
export function loadState(
  db: Db,
  subscription: string,
  partition: number,
): PartitionDeliveryState | undefined {
  const cached = cacheOf(db).get(subscription)?.get(partition);
  if (cached) return cached;
  const row = db
    .sql("SELECT state FROM delivery_states WHERE subscription = ? AND partition = ?")
    .get(subscription, partition) as Row | undefined;
  if (!row) return undefined;
  const state = decodeState(row.state as Uint8Array);
  remember(db, subscription, partition, state);
  return state;
}

/** Every partition's state of a subscription (index = partition; a gap stays undefined). */
export function loadStates(db: Db, subscription: string): (PartitionDeliveryState | undefined)[] {
  const rows = db
    .sql("SELECT partition FROM delivery_states WHERE subscription = ? ORDER BY partition")
    .all(subscription) as Row[];
  const states: (PartitionDeliveryState | undefined)[] = [];
  for (const row of rows) {
    const partition = Number(row.partition);
    states[partition] = loadState(db, subscription, partition);
  }
  return states;
}

/** Writes a state when the rules changed it (they return the very state given when nothing changed). */
export function saveState(
  db: Db,
  subscription: string,
  partition: number,
  before: PartitionDeliveryState | undefined,
  after: PartitionDeliveryState,
): void {
  if (before === after) return;
  db.sql("INSERT OR REPLACE INTO delivery_states (subscription, partition, state) VALUES (?, ?, ?)").run(
    subscription,
    partition,
    encodeState(after),
  );
  remember(db, subscription, partition, after);
}

/** The states of a new subscription: each partition at its cursor with no lease. */
export function createStates(db: Db, subscription: string, cursors: number[]): void {
  for (const [partition, cursor] of cursors.entries()) {
    saveState(db, subscription, partition, undefined, initialState(cursor));
  }
}

export function deleteStates(db: Db, subscription: string): void {
  db.sql("DELETE FROM delivery_states WHERE subscription = ?").run(subscription);
  cacheOf(db).delete(subscription);
}

/** The topic of a subscription, or undefined when it does not exist. */
export function topicOf(db: Db, subscription: string): string | undefined {
  const row = db.sql("SELECT topic FROM subscriptions WHERE name = ?").get(subscription) as Row | undefined;
  return row?.topic as string | undefined;
}

/** The subscriptions of a topic, by name. */
export function subscriptionsOf(db: Db, topic: string): string[] {
  const rows = db.sql("SELECT name FROM subscriptions WHERE topic = ?").all(topic) as Row[];
  return rows.map((row) => row.name as string);
}

export function subscriptionMissing(name: string): CebusError {
  return new CebusError("not_found", `subscription '${name}' does not exist; create it first`, {
    field: "subscription",
  });
}
