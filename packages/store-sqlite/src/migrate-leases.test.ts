import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { create, toBinary } from "@bufbuild/protobuf";
import { SubscriptionSchema, TopicSchema } from "@cebus/proto";
import { afterAll, describe, expect, it } from "vitest";
import { createSqliteStore } from "./sqlite-store.js";

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** The schema of version 1 (before delivery state rows), as Cebus created it: a cursor row and a lease row each. */
const schemaV1 = `
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE topics (name TEXT PRIMARY KEY, config BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE partitions (
  topic TEXT NOT NULL, partition INTEGER NOT NULL,
  start_offset INTEGER NOT NULL, next_offset INTEGER NOT NULL, event_count INTEGER NOT NULL, bytes INTEGER NOT NULL,
  PRIMARY KEY (topic, partition)) WITHOUT ROWID;
CREATE TABLE events (
  topic TEXT NOT NULL, partition INTEGER NOT NULL, offset INTEGER NOT NULL,
  publish_time INTEGER NOT NULL, key TEXT, data BLOB NOT NULL,
  PRIMARY KEY (topic, partition, offset)) WITHOUT ROWID;
CREATE TABLE dedupe (
  topic TEXT NOT NULL, source TEXT NOT NULL, id TEXT NOT NULL,
  partition INTEGER NOT NULL, offset INTEGER NOT NULL, time INTEGER NOT NULL,
  PRIMARY KEY (topic, source, id)) WITHOUT ROWID;
CREATE TABLE subscriptions (name TEXT PRIMARY KEY, topic TEXT NOT NULL, config BLOB NOT NULL) WITHOUT ROWID;
CREATE INDEX subscriptions_topic ON subscriptions (topic);
CREATE TABLE cursors (
  subscription TEXT NOT NULL, partition INTEGER NOT NULL, offset INTEGER NOT NULL,
  PRIMARY KEY (subscription, partition)) WITHOUT ROWID;
CREATE TABLE leases (
  subscription TEXT NOT NULL, partition INTEGER NOT NULL, offset INTEGER NOT NULL,
  attempt INTEGER NOT NULL, token TEXT NOT NULL, deadline INTEGER NOT NULL, held INTEGER NOT NULL, key TEXT,
  PRIMARY KEY (subscription, partition, offset)) WITHOUT ROWID;
CREATE INDEX leases_visible ON leases (subscription, partition, deadline);
CREATE INDEX leases_key ON leases (subscription, partition, key, offset);
CREATE INDEX dedupe_time ON dedupe (topic, time);
INSERT INTO meta (key, value) VALUES ('schema', '1');
`;

const T0 = 1_800_000_000_000;

/**
 * A version 1 database: topic "t" (one partition, offsets 0..4, offsets 1 and 2 with key "k"), subscription
 * "sub" with its cursor at 4 and these leases: 0 held by token "a"; 1 nacked (attempt 2, visible at T0 + 500);
 * 2 parked behind key "k"; 4 requeued although the cursor had not delivered it (version 1 allowed that).
 */
function buildVersion1(path: string): void {
  const db = new DatabaseSync(path);
  db.exec(schemaV1);
  const topic = create(TopicSchema, { name: "t", partitions: 1 });
  db.prepare("INSERT INTO topics VALUES ('t', ?)").run(toBinary(TopicSchema, topic));
  db.prepare("INSERT INTO partitions VALUES ('t', 0, 0, 5, 5, 5)").run();
  const event = db.prepare("INSERT INTO events VALUES ('t', 0, ?, ?, ?, ?)");
  for (let offset = 0; offset < 5; offset++) {
    event.run(
      offset,
      T0 - 1000 + offset,
      offset === 1 || offset === 2 ? "k" : null,
      new Uint8Array([offset]),
    );
  }
  const sub = create(SubscriptionSchema, { name: "sub", topic: "t", ordered: true });
  db.prepare("INSERT INTO subscriptions VALUES ('sub', 't', ?)").run(toBinary(SubscriptionSchema, sub));
  db.prepare("INSERT INTO cursors VALUES ('sub', 0, 4)").run();
  const lease = db.prepare("INSERT INTO leases VALUES ('sub', 0, ?, ?, ?, ?, ?, ?)");
  lease.run(0, 1, "a", T0 + 1000, 1, null);
  lease.run(1, 2, "b", T0 + 500, 0, "k");
  lease.run(2, 0, "", 0, 0, "k");
  lease.run(4, 0, "", T0, 0, null);
  db.close();
}

describe("sqlite store: opening a version 1 database", () => {
  it("converts cursor and lease rows into delivery states: held leases settle, waiting ones are redelivered in order", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cebus-sqlite-v1-"));
    dirs.push(dir);
    const path = join(dir, "cebus.db");
    buildVersion1(path);

    const store = createSqliteStore({ path });
    expect(await store.subscriptionStats("sub", T0)).toEqual({
      backlog: 3, // 1 nacked, 2 parked, 4 unread (its requeue past the cursor is dropped)
      inFlight: 1,
      oldestUnackedPublishTime: T0 - 1000,
    });
    expect(
      await store.settle(
        { subscription: "sub", topic: "t" },
        { kind: "ack", leases: [{ partition: 0, offset: 0, token: "a" }], now: T0 },
      ),
    ).toEqual([true]);
    const leases = await store.claim({
      subscription: "sub",
      topic: "t",
      partition: 0,
      consumer: "c",
      max: 10,
      maxBytes: 1 << 20,
      now: T0 + 500,
      leaseMs: 1000,
      token: "c1",
      autoAck: false,
      ordered: true,
    });
    // 1 again (attempt 3); 2 waits behind it (same key); 4 once, from the cursor
    expect(leases.map((l) => [l.event.offset, l.attempt])).toEqual([
      [1, 3],
      [4, 1],
    ]);
    await store.close();

    const db = new DatabaseSync(path);
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all();
    expect(tables.map((t) => t.name)).not.toContain("leases");
    expect(tables.map((t) => t.name)).not.toContain("cursors");
    expect(db.prepare("SELECT value FROM meta WHERE key = 'schema'").get()).toEqual({ value: "2" });
    db.close();
  });
});
