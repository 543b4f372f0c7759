import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { type Subscription, SubscriptionSchema } from "@cebus/proto";
import type { Store } from "@cebus/store";
import { openDatabase } from "./open-database.js";
import { createDb, type Db, type Row } from "./sqlite-db.js";
import { createStates, deleteStates } from "./sqlite-delivery.js";
import * as log from "./sqlite-log.js";
import * as delivery from "./sqlite-operations.js";

export interface SqliteStoreOptions {
  /**
   * A database file (its directory is created), or ":memory:". A file is locked while the store is open: opening
   * it again, from any process, fails with `failed_precondition` naming the holder's pid (see open-database.ts).
   */
  path: string;
  /**
   * "normal" (default): in WAL mode a committed append survives the process being killed (kill -9), but the last
   * transactions may be lost if the operating system crashes. "full": fsync on every commit, which also survives
   * an OS crash or power loss, at a cost in publish latency.
   */
  synchronous?: "normal" | "full";
}

/**
 * The embedded store: one SQLite database (node:sqlite), serving one broker process. The log lives in
 * sqlite-log.ts; delivery is decided by `@cebus/store/delivery` (sqlite-operations.ts) and persisted as one state
 * row per subscription partition (sqlite-delivery.ts).
 */
export function createSqliteStore(options: SqliteStoreOptions): Store {
  const opened = openDatabase(options.path, options.synchronous ?? "normal");
  const db = createDb(opened.db);
  return {
    description: options.path === ":memory:" ? "sqlite::memory:" : `sqlite:${options.path}`,
    createTopic: async (topic) => log.createTopic(db, topic),
    getTopic: async (name) => log.getTopic(db, name),
    listTopics: async () => log.listTopics(db),
    deleteTopic: async (name) => log.deleteTopic(db, name),
    partitionStats: async (topic) => log.partitionRows(db, topic),
    offsetForTime: async (topic, partition, time) => log.offsetForTime(db, topic, partition, time),
    append: async (topic, events, opts) => log.append(db, topic, events, opts),
    read: async (topic, partition, fromOffset, limit) => log.read(db, topic, partition, fromOffset, limit),
    createSubscription: async (subscription, cursors) => createSubscription(db, subscription, cursors),
    getSubscription: async (name) => getSubscription(db, name),
    listSubscriptions: async (topic) => listSubscriptions(db, topic),
    deleteSubscription: async (name) => deleteSubscription(db, name),
    seek: async (ref, cursors) => delivery.seek(db, ref.subscription, cursors),
    claim: async (request) => delivery.claim(db, request),
    settle: async (ref, action) => delivery.settle(db, ref.subscription, action),
    subscriptionStats: async (name, now) => delivery.subscriptionCounts(db, name, now),
    requeue: async (ref, refs, now) => delivery.requeue(db, ref, refs, now),
    trim: async (topic, opts) => delivery.trim(db, topic, opts),
    close: async () => opened.close(),
  };
}

function createSubscription(db: Db, subscription: Subscription, cursors: number[]): boolean {
  return db.transaction(() => {
    if (db.sql("SELECT 1 FROM subscriptions WHERE name = ?").get(subscription.name)) return false;
    db.sql("INSERT INTO subscriptions (name, topic, config) VALUES (?, ?, ?)").run(
      subscription.name,
      subscription.topic,
      toBinary(SubscriptionSchema, subscription),
    );
    createStates(db, subscription.name, cursors);
    return true;
  });
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
  return db.transaction(() => {
    if (!db.sql("SELECT 1 FROM subscriptions WHERE name = ?").get(name)) return false;
    db.sql("DELETE FROM subscriptions WHERE name = ?").run(name);
    deleteStates(db, name);
    return true;
  });
}
