import type { ClientBase } from "pg";
import { migrateLeaseRows } from "./migrate-leases.js";

/**
 * Versioned migrations, applied by the broker at start inside one transaction under an advisory lock (so two
 * brokers starting together apply each once). A failed migration rolls back entirely: never half-applied.
 *
 * The events table is the log of every topic partition and, later, of event-sourced streams: `position` is a
 * global order, (topic, partition, offset) the per-partition order readers page through, publish_time the index
 * for seeking by time. Offsets are assigned under the partition row's lock, so they commit in offset order: a
 * reader never passes a row that commits later with a smaller offset (the sequence-gap bug of queue tables).
 *
 * Delivery state (version 2): one `cebus_delivery_states` row per subscription partition holds the cursor and the
 * leases as `@cebus/store/delivery` encodes them; `version` (from one sequence, never reused) changes on every
 * write, so a broker knows whether the state it decoded last is still the row's. Version 2 converts the cursor and
 * lease rows of version 1 (migrate-leases.ts) and drops them.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
  /** Work SQL alone cannot do, run after `sql` in the same transaction. */
  after?: (client: ClientBase) => Promise<void>;
}

export const migrations: Migration[] = [
  {
    version: 1,
    name: "log, subscriptions, leases, dedupe, outbox",
    sql: `
CREATE TABLE cebus_topics (name text PRIMARY KEY, config bytea NOT NULL);
CREATE TABLE cebus_partitions (
  topic text NOT NULL REFERENCES cebus_topics (name) ON DELETE CASCADE, partition int NOT NULL,
  start_offset bigint NOT NULL DEFAULT 0, next_offset bigint NOT NULL DEFAULT 0,
  event_count bigint NOT NULL DEFAULT 0, bytes bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (topic, partition));
CREATE TABLE cebus_events (
  position bigint GENERATED ALWAYS AS IDENTITY,
  topic text NOT NULL, partition int NOT NULL, "offset" bigint NOT NULL,
  publish_time bigint NOT NULL, key text, data bytea NOT NULL,
  stream text, revision bigint,
  PRIMARY KEY (topic, partition, "offset"));
CREATE INDEX cebus_events_time ON cebus_events (topic, partition, publish_time);
CREATE UNIQUE INDEX cebus_events_position ON cebus_events (position);
CREATE UNIQUE INDEX cebus_events_stream ON cebus_events (stream, revision) WHERE stream IS NOT NULL;
CREATE TABLE cebus_dedupe (
  topic text NOT NULL, source text NOT NULL, id text NOT NULL,
  partition int NOT NULL, "offset" bigint NOT NULL, time bigint NOT NULL,
  PRIMARY KEY (topic, source, id));
CREATE INDEX cebus_dedupe_time ON cebus_dedupe (topic, time);
CREATE TABLE cebus_subscriptions (name text PRIMARY KEY, topic text NOT NULL, config bytea NOT NULL);
CREATE INDEX cebus_subscriptions_topic ON cebus_subscriptions (topic);
CREATE TABLE cebus_cursors (
  subscription text NOT NULL REFERENCES cebus_subscriptions (name) ON DELETE CASCADE, partition int NOT NULL,
  "offset" bigint NOT NULL, PRIMARY KEY (subscription, partition));
CREATE TABLE cebus_leases (
  subscription text NOT NULL REFERENCES cebus_subscriptions (name) ON DELETE CASCADE, partition int NOT NULL,
  "offset" bigint NOT NULL, attempt int NOT NULL, token text NOT NULL, deadline bigint NOT NULL,
  held boolean NOT NULL, key text,
  PRIMARY KEY (subscription, partition, "offset"));
CREATE INDEX cebus_leases_visible ON cebus_leases (subscription, partition, deadline);
CREATE INDEX cebus_leases_key ON cebus_leases (subscription, partition, key, "offset");
CREATE TABLE cebus_outbox (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, topic text NOT NULL, event bytea NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now());
`,
  },
  {
    version: 2,
    name: "delivery states (one encoded state per subscription partition) replace cursors and leases",
    sql: `
CREATE SEQUENCE cebus_delivery_state_versions;
CREATE TABLE cebus_delivery_states (
  subscription text NOT NULL REFERENCES cebus_subscriptions (name) ON DELETE CASCADE, partition int NOT NULL,
  version bigint NOT NULL, state bytea NOT NULL,
  PRIMARY KEY (subscription, partition));
`,
    after: migrateLeaseRows,
  },
];
