/**
 * The SQLite schema of the embedded store. Offsets per (topic, partition) come from `partitions.next_offset`,
 * which only grows, so an offset is never reused. Lease rows exist for events that were delivered and not yet
 * acked: `held` = 1 while a consumer holds them until `deadline`, 0 while they wait (after a nack) to be visible
 * again at `deadline`.
 */
export const schemaVersion = 1;

export const schema = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
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
CREATE TABLE IF NOT EXISTS subscriptions (name TEXT PRIMARY KEY, topic TEXT NOT NULL, config BLOB NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS subscriptions_topic ON subscriptions (topic);
CREATE TABLE IF NOT EXISTS cursors (
  subscription TEXT NOT NULL, partition INTEGER NOT NULL, offset INTEGER NOT NULL,
  PRIMARY KEY (subscription, partition)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS leases (
  subscription TEXT NOT NULL, partition INTEGER NOT NULL, offset INTEGER NOT NULL,
  attempt INTEGER NOT NULL, token TEXT NOT NULL, deadline INTEGER NOT NULL, held INTEGER NOT NULL, key TEXT,
  PRIMARY KEY (subscription, partition, offset)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS leases_visible ON leases (subscription, partition, deadline);
CREATE INDEX IF NOT EXISTS leases_key ON leases (subscription, partition, key, offset);
CREATE INDEX IF NOT EXISTS dedupe_time ON dedupe (topic, time);
`;
