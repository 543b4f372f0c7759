import type { DatabaseSync } from "node:sqlite";
import { CebusError } from "@cebus/core";
import { migrateLeaseRows } from "./migrate-leases.js";

/**
 * The SQLite schema of the embedded store. The log: topics, partitions, events and dedupe entries; offsets per
 * (topic, partition) come from `partitions.next_offset`, which only grows, so an offset is never reused. Delivery:
 * one `delivery_states` row per (subscription, partition) holding its cursor and leases, encoded by
 * `@cebus/store/delivery` (codec.ts) and only ever written whole, in the transaction of the operation that changed
 * it.
 *
 * Version 1 kept a `cursors` row per subscription partition and a `leases` row per delivered event; opening such a
 * database converts it (migrate-leases.ts).
 */
export const schemaVersion = 2;

const meta = "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;";

export const schema = `
${meta}
CREATE TABLE IF NOT EXISTS topics (name TEXT PRIMARY KEY, config BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS partitions (
  topic TEXT NOT NULL, partition INTEGER NOT NULL,
  start_offset INTEGER NOT NULL, next_offset INTEGER NOT NULL, event_count INTEGER NOT NULL, bytes INTEGER NOT NULL,
  PRIMARY KEY (topic, partition)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS events (
  topic TEXT NOT NULL, partition INTEGER NOT NULL, offset INTEGER NOT NULL,
  publish_time INTEGER NOT NULL, key TEXT, data BLOB NOT NULL,
  PRIMARY KEY (topic, partition, offset)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS dedupe (
  topic TEXT NOT NULL, source TEXT NOT NULL, id TEXT NOT NULL,
  partition INTEGER NOT NULL, offset INTEGER NOT NULL, time INTEGER NOT NULL,
  PRIMARY KEY (topic, source, id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS dedupe_time ON dedupe (topic, time);
CREATE TABLE IF NOT EXISTS subscriptions (name TEXT PRIMARY KEY, topic TEXT NOT NULL, config BLOB NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS subscriptions_topic ON subscriptions (topic);
CREATE TABLE IF NOT EXISTS delivery_states (
  subscription TEXT NOT NULL, partition INTEGER NOT NULL, state BLOB NOT NULL,
  PRIMARY KEY (subscription, partition)) WITHOUT ROWID;
`;

/**
 * Brings the database to this schema in one transaction: refuses one written by a newer Cebus, creates what is
 * missing, converts version 1's lease rows, and records the version.
 */
export function applySchema(db: DatabaseSync, path: string): void {
  db.exec(meta);
  const row = db.prepare("SELECT value FROM meta WHERE key = 'schema'").get() as
    | { value: string }
    | undefined;
  const version = row ? Number(row.value) : undefined;
  if (version !== undefined && version > schemaVersion) {
    throw new CebusError(
      "failed_precondition",
      `${path} was written by a newer Cebus (schema ${version}); upgrade cebus or use another data directory`,
    );
  }
  if (version === schemaVersion) {
    db.exec(schema);
    return;
  }
  db.exec("BEGIN IMMEDIATE");
  try {
    db.exec(schema);
    migrateLeaseRows(db);
    db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('schema', ?)").run(String(schemaVersion));
    db.exec("COMMIT");
  } catch (error) {
    db.exec("ROLLBACK");
    throw error;
  }
}
