import { create } from "@bufbuild/protobuf";
import { SubscriptionSchema, TopicSchema } from "@cebus/proto";
import type { AppendEvent, ClaimRequest, Lease, Store } from "@cebus/store";
import { type NatsServer, startNats } from "@cebus/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openNatsStore } from "./connect.js";

let server: NatsServer;
beforeAll(async () => {
  server = await startNats();
}, 120_000);
afterAll(async () => {
  await server?.[Symbol.asyncDispose]();
});

const T0 = 1_800_000_000_000;
const SUB = { subscription: "sub", topic: "t" };
const claimOf = (overrides: Partial<ClaimRequest>): ClaimRequest => ({
  ...SUB,
  partition: 0,
  consumer: "c",
  max: 5,
  maxBytes: 1 << 20,
  now: T0, // time stands still: no lease expires, so an event is leased again only after a nack
  leaseMs: 3_600_000,
  token: "t",
  autoAck: false,
  ...overrides,
});

/** Two stores over one NATS namespace (two broker processes), with topic "t" and subscription "sub". */
async function twoStores(count: number, keys: number, ordered: boolean): Promise<[Store, Store]> {
  const namespace = `c${Math.random().toString(36).slice(2, 10)}`;
  const a = await openNatsStore(server.url, { namespace });
  const b = await openNatsStore(server.url, { namespace });
  await a.createTopic(create(TopicSchema, { name: "t", partitions: 1 }));
  await a.createSubscription(create(SubscriptionSchema, { name: "sub", topic: "t", ordered }), [0]);
  const events: AppendEvent[] = Array.from({ length: count }, (_, i) => ({
    partition: 0,
    source: "/c",
    id: `e${i}`,
    key: keys > 0 ? `k${i % keys}` : undefined,
    data: new Uint8Array([i % 256]),
  }));
  for (let i = 0; i < count; i += 100) {
    await a.append("t", events.slice(i, i + 100), { now: T0, dedupeSince: T0 + 1 });
  }
  return [a, b];
}

/** What the racing consumers saw, shared between them (one event loop, so no torn updates). */
interface Seen {
  total: number;
  ordered: boolean;
  /** Offset -> token of the claim holding it now. */
  held: Map<number, string>;
  heldKeys: Set<string>;
  acked: number[];
  problems: string[];
  settles: number;
}

/** Claims, nacks every event at an offset divisible by 5 once, acks the rest; records what breaks the rules. */
async function consume(store: Store, name: string, seen: Seen, ordered: boolean): Promise<void> {
  const until = Date.now() + 60_000;
  for (let i = 0; seen.acked.length < seen.total && Date.now() < until; i++) {
    const token = `${name}-${i}`;
    const leases = await store.claim(claimOf({ max: 1 + (i % 7), token, ordered }));
    for (const lease of leases) take(seen, lease, token);
    if (leases.length === 0) {
      await new Promise((resolve) => setTimeout(resolve, 2));
      continue;
    }
    const nack = leases.filter((l) => l.event.offset % 5 === 0 && l.attempt === 1);
    const ack = leases.filter((l) => !nack.includes(l));
    await Promise.all([settle(store, seen, "nack", nack), settle(store, seen, "ack", ack)]);
  }
}

function take(seen: Seen, lease: Lease, token: string): void {
  const { offset, key } = lease.event;
  if (seen.held.has(offset)) seen.problems.push(`offset ${offset} leased to ${token} while held`);
  if (seen.ordered && key !== undefined && seen.heldKeys.has(key)) {
    seen.problems.push(`key ${key} leased twice at once (offset ${offset})`);
  }
  seen.held.set(offset, token);
  if (key !== undefined) seen.heldKeys.add(key);
}

async function settle(store: Store, seen: Seen, kind: "ack" | "nack", leases: Lease[]): Promise<void> {
  if (leases.length === 0) return;
  // released before the settle is sent: the store holds them until the settle is saved
  for (const lease of leases) {
    seen.held.delete(lease.event.offset);
    if (lease.event.key !== undefined) seen.heldKeys.delete(lease.event.key);
    if (kind === "ack") seen.acked.push(lease.event.offset);
  }
  const refs = leases.map((l) => ({ partition: 0, offset: l.event.offset, token: l.token }));
  const matches = await store.settle(SUB, { kind, leases: refs, now: T0, until: T0 });
  seen.settles++;
  matches.forEach((match, i) => {
    if (!match) seen.problems.push(`${kind} of offset ${refs[i]?.offset} was lost`);
  });
}

async function race(count: number, keys: number, ordered: boolean): Promise<Seen> {
  const [a, b] = await twoStores(count, keys, ordered);
  const seen: Seen = {
    total: count,
    ordered,
    held: new Map(),
    heldKeys: new Set(),
    acked: [],
    problems: [],
    settles: 0,
  };
  try {
    // two consumers per store: changes inside one store queue, changes from the other store conflict
    await Promise.all([
      consume(a, "a1", seen, ordered),
      consume(a, "a2", seen, ordered),
      consume(b, "b1", seen, ordered),
      consume(b, "b2", seen, ordered),
    ]);
    expect([...(await b.claim(claimOf({ token: "last", max: 100, ordered })))]).toEqual([]);
    expect(await a.subscriptionStats("sub", T0)).toEqual({
      backlog: 0,
      inFlight: 0,
      oldestUnackedPublishTime: undefined,
    });
  } finally {
    await a.close();
    await b.close();
  }
  return seen;
}

describe("nats store: two broker processes on one subscription partition", () => {
  it("racing claims and settles never lease an event twice and lose no settle (conflicts decided again)", async () => {
    const seen = await race(300, 0, false);
    expect(seen.problems).toEqual([]);
    expect([...seen.acked].sort((x, y) => x - y)).toEqual(Array.from({ length: 300 }, (_, i) => i));
  }, 90_000);

  it("ordered: one held lease per key at a time, and each key acked in offset order", async () => {
    const seen = await race(200, 7, true);
    expect(seen.problems).toEqual([]);
    expect(seen.acked).toHaveLength(200);
    for (let k = 0; k < 7; k++) {
      const ofKey = seen.acked.filter((offset) => offset % 7 === k);
      expect(ofKey).toEqual([...ofKey].sort((x, y) => x - y));
    }
  }, 90_000);

  it("a store deciding on the state it wrote last finds the other store's write and decides again", async () => {
    const [a, b] = await twoStores(3, 0, false);
    try {
      const first = await a.claim(claimOf({ max: 1, token: "a1" })); // a keeps the state it wrote
      const second = await b.claim(claimOf({ max: 1, token: "b1" })); // b moves the cursor past a's copy
      const third = await a.claim(claimOf({ max: 1, token: "a2" })); // a's save conflicts: read, decide again
      expect([first, second, third].map((leases) => leases.map((l) => l.event.offset))).toEqual([
        [0],
        [1],
        [2],
      ]);
      const ack = { kind: "ack" as const, leases: [{ partition: 0, offset: 1, token: "b1" }], now: T0 };
      expect(await a.settle(SUB, ack)).toEqual([true]); // a's copy says offset 1 is not leased: read again
    } finally {
      await a.close();
      await b.close();
    }
  });
});
