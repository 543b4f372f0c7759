import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { CebusError } from "@cebus/core";
import { type Subscription, SubscriptionSchema } from "@cebus/proto";
import type { Store } from "@cebus/store";
import { openDatabase } from "./open-database.js";
import { createDb, type Db, type Row } from "./sqlite-db.js";
import { createStates, deleteStates } from "./sqlite-delivery.js";
import * as log from "./sqlite-log.js";
import * as delivery from "./sqlite-operations.js";
import { openWalSync } from "./wal-sync.js";

export interface SqliteStoreOptions {
  /**
   * A database file (its directory is created), or ":memory:". A file is locked while the store is open: opening
   * it again, from any process, fails with `failed_precondition` naming the holder's pid (see open-database.ts).
   */
  path: string;
  /**
   * Durability of an acknowledged write. "full" (default): a publish is acknowledged, and an ack confirmed, only
   * after the commit that holds it was fsynced, so it survives a machine crash or power loss; concurrent operations
   * share one commit and one fsync (group commit, see sqlite-db.ts). "normal": committed but not fsynced (WAL with
   * `synchronous = NORMAL`): survives the process being killed (kill -9), but the last commits may be lost if the
   * operating system crashes.
   */
  synchronous?: "normal" | "full";
}

/**
 * The embedded store: one SQLite database (node:sqlite), serving one broker process. The log lives in
 * sqlite-log.ts; delivery is decided by `@cebus/store/delivery` (sqlite-operations.ts) and persisted as one state
 * row per subscription partition (sqlite-delivery.ts).
 */
export function createSqliteStore(options: SqliteStoreOptions): Store {
  // SQLite itself never waits for the disk (WAL, synchronous = NORMAL); "full" adds the WAL fsync of wal-sync.ts.
  const opened = openDatabase(options.path, "normal");
  const durable = (options.synchronous ?? "full") === "full" && options.path !== ":memory:";
  const wal = durable ? withClosedOnFailure(opened, () => openWalSync(options.path)) : undefined;
  const db = createDb(opened.db, wal);
  return {
    description: options.path === ":memory:" ? "sqlite::memory:" : `sqlite:${options.path}`,
    createTopic: (topic) => db.write(() => log.createTopic(db, topic)),
    getTopic: (name) => db.read(() => log.getTopic(db, name)),
    listTopics: () => db.read(() => log.listTopics(db)),
    deleteTopic: (name) => db.write(() => log.deleteTopic(db, name)),
    partitionStats: (topic) => db.read(() => log.partitionRows(db, topic)),
    offsetForTime: (topic, partition, time) => db.read(() => log.offsetForTime(db, topic, partition, time)),
    append: (topic, events, opts) => db.write(() => log.append(db, topic, events, opts)),
    read: (topic, partition, fromOffset, limit) =>
      db.read(() => log.read(db, topic, partition, fromOffset, limit)),
    createSubscription: (subscription, cursors) =>
      db.write(() => createSubscription(db, subscription, cursors)),
    getSubscription: (name) => db.read(() => getSubscription(db, name)),
    listSubscriptions: (topic) => db.read(() => listSubscriptions(db, topic)),
    deleteSubscription: (name) => db.write(() => deleteSubscription(db, name)),
    seek: (ref, cursors) => db.write(() => delivery.seek(db, ref.subscription, cursors)),
    // A claim is durable before its events go out, like every write: a lease outlives a kill -9 of the broker.
    claim: (request) => db.write(() => delivery.claim(db, request)),
    settle: (ref, action) => db.write(() => delivery.settle(db, ref.subscription, action)),
    subscriptionStats: (name, now) => db.read(() => delivery.subscriptionCounts(db, name, now)),
    requeue: (ref, refs, now) => db.write(() => delivery.requeue(db, ref, refs, now)),
    trim: (topic, opts) => db.write(() => delivery.trim(db, topic, opts)),
    close: async () => {
      await db.flush();
      wal?.close();
      opened.close();
    },
  };
}

function withClosedOnFailure<T>(opened: { close(): void }, open: () => T): T {
  try {
    return open();
  } catch (error) {
    opened.close();
    throw new CebusError(
      "failed_precondition",
      `cannot open the write-ahead log of the embedded store (${(error as Error).message}); check that its directory is writable`,
      { cause: error },
    );
  }
}

function createSubscription(db: Db, subscription: Subscription, cursors: number[]): boolean {
  if (db.sql("SELECT 1 FROM subscriptions WHERE name = ?").get(subscription.name)) return false;
  db.sql("INSERT INTO subscriptions (name, topic, config) VALUES (?, ?, ?)").run(
    subscription.name,
    subscription.topic,
    toBinary(SubscriptionSchema, subscription),
  );
  createStates(db, subscription.name, cursors);
  return true;
}

function getSubscription(db: Db, name: string): Subscription | undefined {
  const row = db.sql("SELECT config FROM subscriptions WHERE name = ?").get(name) as Row | undefined;
  return row ? fromBinary(SubscriptionSchema, row.config as Uint8Array) : undefined;
}

function listSubscriptions(db: Db, topic: string | undefined): Subscription[] {
  const rows = (
    topic === undefined
      ? db.sql("SELECT config FROM subscriptions ORDER BY name").all()
      : db.sql("SELECT config FROM subscriptions WHERE topic = ? ORDER BY name").all(topic)
  ) as Row[];
  return rows.map((r) => fromBinary(SubscriptionSchema, r.config as Uint8Array));
}

function deleteSubscription(db: Db, name: string): boolean {
  if (!db.sql("SELECT 1 FROM subscriptions WHERE name = ?").get(name)) return false;
  db.sql("DELETE FROM subscriptions WHERE name = ?").run(name);
  deleteStates(db, name);
  return true;
}
