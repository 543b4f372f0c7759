import { create } from "@bufbuild/protobuf";
import { SubscriptionSchema, TopicSchema } from "@cebus/proto";
import type { ClaimRequest, Lease, Store } from "@cebus/store";
import { describe, expect, it } from "vitest";
import { openPostgresStore } from "./connect.js";
import { useTestPostgres } from "./test-postgres.js";

const pgTest = useTestPostgres();

const T0 = 1_800_000_000_000;
const SUB = { subscription: "sub", topic: "t" };
const PARTITIONS = 2;
const EVENTS = 150;

/** Two stores (two broker processes) over one schema, with topic "t" holding EVENTS events per partition. */
async function twoStores(schema: string): Promise<[Store, Store]> {
  await pgTest.admin.query(`CREATE SCHEMA ${schema}`);
  const url = pgTest.inSchema(schema);
  const a = await openPostgresStore(url);
  const b = await openPostgresStore(url);
  await a.createTopic(create(TopicSchema, { name: "t", partitions: PARTITIONS }));
  await a.createSubscription(create(SubscriptionSchema, { name: "sub", topic: "t" }), [0, 0]);
  for (let partition = 0; partition < PARTITIONS; partition++) {
    const events = Array.from({ length: EVENTS }, (_, i) => ({
      partition,
      source: "/s",
      id: `${partition}-${i}`,
      key: undefined,
      data: new Uint8Array([i % 256]),
    }));
    await a.append("t", events, { now: T0, dedupeSince: T0 + 1 });
  }
  return [a, b];
}

let tokens = 0;
const request = (partition: number, now: number, leaseMs: number): ClaimRequest => ({
  subscription: "sub",
  topic: "t",
  partition,
  consumer: "c",
  max: 7,
  maxBytes: 1 << 20,
  now,
  leaseMs,
  token: `t${++tokens}`,
  autoAck: false,
});

const refOf = (lease: Lease) => ({
  partition: lease.event.partition,
  offset: lease.event.offset,
  token: lease.token,
});

interface Settled {
  lease: Lease;
  kind: "ack" | "nack";
  matched: boolean;
}

const keyOf = (lease: Lease) => `${lease.event.partition}.${lease.event.offset}`;

/**
 * Claims from either store until every partition is empty; each batch is settled through the other store (every
 * `nackEvery`th batch nacked, visible again at once at `now + 1`, the rest acked).
 */
async function worker(
  stores: [Store, Store],
  index: number,
  now: number,
  out: Settled[],
  nackEvery = 0,
): Promise<void> {
  const empty = new Set<number>();
  for (let round = 0; empty.size < PARTITIONS; round++) {
    const partition = (index + round) % PARTITIONS;
    const claimer = stores[(index + round) % 2] as Store;
    const settler = stores[(index + round + 1) % 2] as Store;
    const leases = await claimer.claim(request(partition, now, 60_000));
    if (leases.length === 0) {
      empty.add(partition);
      continue;
    }
    empty.clear();
    const kind = nackEvery > 0 && round % nackEvery === 0 ? "nack" : "ack";
    const matches = await settler.settle(SUB, {
      kind,
      leases: leases.map(refOf),
      now: now + 1,
      until: now + 1,
    });
    leases.forEach((lease, i) => {
      out.push({ lease, kind, matched: matches[i] === true });
    });
  }
}

const quiet = { backlog: 0, inFlight: 0, oldestUnackedPublishTime: undefined };

describe("postgres store: two stores on one database", () => {
  it("claiming one subscription's partitions concurrently never leases an event twice and loses no settle", async () => {
    const stores = await twoStores("concurrent");
    const out: Settled[] = [];
    await Promise.all([0, 1, 2, 3, 4, 5].map((i) => worker(stores, i, T0, out)));
    const delivered = out.map((s) => keyOf(s.lease));
    expect(new Set(delivered).size).toBe(delivered.length); // each event leased once
    expect(delivered.length).toBe(PARTITIONS * EVENTS);
    expect(out.every((s) => s.matched)).toBe(true);
    // no ack was lost to a concurrent claim writing an older state: nothing comes back, even long after
    const [a, b] = stores;
    for (let partition = 0; partition < PARTITIONS; partition++) {
      expect([...(await b.claim(request(partition, T0 + 3_600_000, 1000)))]).toEqual([]);
    }
    expect(await a.subscriptionStats("sub", T0 + 3_600_000)).toEqual(quiet);
    await Promise.all(stores.map((s) => s.close()));
  }, 120_000);

  it("nacked events come back once each, to one claimer, with their next attempt", async () => {
    const stores = await twoStores("nacks");
    const first: Settled[] = [];
    await Promise.all([0, 1, 2, 3].map((i) => worker(stores, i, T0, first, 2)));
    expect(first.every((s) => s.matched)).toBe(true);
    expect(first).toHaveLength(PARTITIONS * EVENTS);
    const nacked = first.filter((s) => s.kind === "nack").map((s) => keyOf(s.lease));
    expect(nacked.length).toBeGreaterThan(0);
    const again: Settled[] = [];
    await Promise.all([0, 1, 2, 3].map((i) => worker(stores, i, T0 + 10, again)));
    expect(again.map((s) => keyOf(s.lease)).sort()).toEqual([...nacked].sort());
    expect(again.every((s) => s.lease.attempt === 2 && s.matched)).toBe(true);
    expect(await stores[0].subscriptionStats("sub", T0 + 3_600_000)).toEqual(quiet);
    await Promise.all(stores.map((s) => s.close()));
  }, 120_000);
});
