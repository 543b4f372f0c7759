import { create, toBinary } from "@bufbuild/protobuf";
import { SubscriptionSchema, TopicSchema } from "@cebus/proto";
import type { ClaimRequest } from "@cebus/store";
import type pg from "pg";
import { describe, expect, it } from "vitest";
import { openPostgresStore } from "./connect.js";
import { migrations } from "./migrations.js";
import { useTestPostgres } from "./test-postgres.js";

const pgTest = useTestPostgres();

const T0 = 1_800_000_000_000;

/**
 * A database as migration 1 left it, written by hand: topic "t" with two partitions. Partition 0: offsets 0..4
 * (1 and 2 with key "k"), subscription "sub" (ordered) with its cursor at 4 and these leases: 0 held by token "a";
 * 1 nacked (attempt 2, visible at T0 + 500); 2 parked behind key "k"; 4 requeued although the cursor had not
 * delivered it (migration 1 allowed that). Partition 1: offsets 0..1, cursor 2, offset 1 held by token "b", and 0
 * expired (held by "old" until T0 - 10) and rewritten by a claim into a wait until T0 + 100.
 */
async function buildVersion1(client: pg.Client, schema: string): Promise<void> {
  await client.query(`CREATE SCHEMA ${schema}; SET search_path = ${schema}`);
  await client.query(
    "CREATE TABLE cebus_migrations (version int PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())",
  );
  const first = migrations[0] as (typeof migrations)[number];
  await client.query(first.sql);
  await client.query("INSERT INTO cebus_migrations (version, name) VALUES (1, $1)", [first.name]);
  const topic = create(TopicSchema, { name: "t", partitions: 2 });
  await client.query("INSERT INTO cebus_topics VALUES ('t', $1)", [
    Buffer.from(toBinary(TopicSchema, topic)),
  ]);
  await client.query(
    "INSERT INTO cebus_partitions (topic, partition, next_offset, event_count, bytes) VALUES ('t', 0, 5, 5, 5), ('t', 1, 2, 2, 2)",
  );
  for (const [partition, count] of [
    [0, 5],
    [1, 2],
  ] as const) {
    for (let offset = 0; offset < count; offset++) {
      const key = partition === 0 && (offset === 1 || offset === 2) ? "k" : null;
      await client.query(
        `INSERT INTO cebus_events (topic, partition, "offset", publish_time, key, data) VALUES ('t', $1, $2, $3, $4, $5)`,
        [partition, offset, T0 - 1000 + offset, key, Buffer.from([offset])],
      );
    }
  }
  const sub = create(SubscriptionSchema, { name: "sub", topic: "t", ordered: true });
  await client.query("INSERT INTO cebus_subscriptions VALUES ('sub', 't', $1)", [
    Buffer.from(toBinary(SubscriptionSchema, sub)),
  ]);
  await client.query(`INSERT INTO cebus_cursors VALUES ('sub', 0, 4), ('sub', 1, 2)`);
  const lease = `INSERT INTO cebus_leases (subscription, partition, "offset", attempt, token, deadline, held, key)
                 VALUES ('sub', $1, $2, $3, $4, $5, $6, $7)`;
  await client.query(lease, [0, 0, 1, "a", T0 + 1000, true, null]);
  await client.query(lease, [0, 1, 2, "b", T0 + 500, false, "k"]);
  await client.query(lease, [0, 2, 0, "", 0, false, "k"]);
  await client.query(lease, [0, 4, 0, "", T0, false, null]);
  await client.query(lease, [1, 0, 1, "old", T0 + 100, false, null]);
  await client.query(lease, [1, 1, 1, "b", T0 + 2000, true, null]);
  await client.query("RESET search_path");
}

const claimAt = (partition: number, now: number, token: string): ClaimRequest => ({
  subscription: "sub",
  topic: "t",
  partition,
  consumer: "c",
  max: 10,
  maxBytes: 1 << 20,
  now,
  leaseMs: 1000,
  token,
  autoAck: false,
  ordered: true,
});

describe("postgres store: opening a database of migration 1", () => {
  it("converts cursor and lease rows into delivery states: held leases settle, waiting ones are redelivered in order", async () => {
    await buildVersion1(pgTest.admin, "v1");
    const store = await openPostgresStore(pgTest.inSchema("v1"));
    const sub = { subscription: "sub", topic: "t" };
    expect(await store.subscriptionStats("sub", T0)).toEqual({
      backlog: 4, // p0: 1 nacked, 2 parked, 4 unread (its requeue past the cursor is dropped); p1: 0 waiting
      inFlight: 2,
      oldestUnackedPublishTime: T0 - 1000,
    });
    const acks = await store.settle(sub, {
      kind: "ack",
      leases: [
        { partition: 0, offset: 0, token: "a" },
        { partition: 1, offset: 1, token: "b" },
      ],
      now: T0,
    });
    expect(acks).toEqual([true, true]);
    const leases = await store.claim(claimAt(0, T0 + 500, "c1"));
    // 1 again (attempt 3); 2 waits behind it (same key); 4 once, from the cursor
    expect(leases.map((l) => [l.event.offset, l.attempt])).toEqual([
      [1, 3],
      [4, 1],
    ]);
    expect((await store.claim(claimAt(1, T0 + 99, "c2"))).map((l) => l.event.offset)).toEqual([]);
    expect((await store.claim(claimAt(1, T0 + 100, "c3"))).map((l) => [l.event.offset, l.attempt])).toEqual([
      [0, 2],
    ]);
    await store.close();

    const tables = await pgTest.admin.query(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = 'v1' ORDER BY table_name",
    );
    const names = tables.rows.map((r) => r.table_name);
    expect(names).toContain("cebus_delivery_states");
    expect(names).not.toContain("cebus_leases");
    expect(names).not.toContain("cebus_cursors");
    const versions = await pgTest.admin.query("SELECT version FROM v1.cebus_migrations ORDER BY version");
    expect(versions.rows.map((r) => r.version)).toEqual([1, 2]);
  });

  it("a new database goes through both migrations and keeps no lease table", async () => {
    await pgTest.admin.query("CREATE SCHEMA fresh");
    const store = await openPostgresStore(pgTest.inSchema("fresh"));
    await store.close();
    const tables = await pgTest.admin.query(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = 'fresh' AND table_name IN ('cebus_leases', 'cebus_cursors', 'cebus_delivery_states')",
    );
    expect(tables.rows.map((r) => r.table_name)).toEqual(["cebus_delivery_states"]);
  });
});
