import { create } from "@bufbuild/protobuf";
import { SubscriptionSchema, TopicSchema } from "@cebus/proto";
import type { Lease, Store } from "@cebus/store";
import { type RedisServer, startRedis } from "@cebus/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openRedisStore } from "./connect.js";

let server: RedisServer;
beforeAll(async () => {
  server = await startRedis();
}, 120_000);
afterAll(async () => {
  await server?.[Symbol.asyncDispose]();
});

const T0 = 1_800_000_000_000;
const ref = { subscription: "sub", topic: "t" };
const total = 300;

/** Two store instances (two connections, as two broker processes) over one namespace holding `total` events. */
async function twoStores(): Promise<[Store, Store]> {
  const namespace = `c${Math.random().toString(36).slice(2, 8)}`;
  const a = await openRedisStore(server.url, { namespace });
  const b = await openRedisStore(server.url, { namespace });
  await a.createTopic(create(TopicSchema, { name: "t", partitions: 1 }));
  await a.createSubscription(create(SubscriptionSchema, { name: "sub", topic: "t" }), [0]);
  const events = Array.from({ length: total }, (_, i) => ({
    partition: 0,
    source: "/c",
    id: `e${i}`,
    key: undefined,
    data: new Uint8Array([i % 256]),
  }));
  await a.append("t", events, { now: T0, dedupeSince: T0 + 1 });
  return [a, b];
}

/** Claims until the partition is drained, several claims in flight at once; each lease acked through `settler`. */
async function drain(store: Store, settler: Store, name: string, acks: boolean[]): Promise<Lease[]> {
  const taken: Lease[] = [];
  let round = 0;
  for (;;) {
    const batches = await Promise.all(
      [0, 1, 2].map((i) =>
        store.claim({
          subscription: "sub",
          topic: "t",
          partition: 0,
          consumer: name,
          max: 7,
          maxBytes: 1 << 20,
          now: T0 + 1,
          leaseMs: 3_600_000,
          token: `${name}-${round}-${i}`,
          autoAck: false,
        }),
      ),
    );
    round++;
    const leases = batches.flat();
    if (leases.length === 0) return taken;
    taken.push(...leases);
    const results = await Promise.all(
      leases.map((lease) =>
        settler.settle(ref, {
          kind: "ack",
          leases: [{ partition: 0, offset: lease.event.offset, token: lease.token }],
          now: T0 + 2,
        }),
      ),
    );
    acks.push(...results.flat());
  }
}

describe("redis store - two broker processes on one subscription partition", () => {
  it("concurrent claims never lease one event twice, and no concurrent settle is lost", async () => {
    const [a, b] = await twoStores();
    const acks: boolean[] = [];
    const [fromA, fromB] = await Promise.all([drain(a, b, "a", acks), drain(b, a, "b", acks)]);
    const offsets = [...fromA, ...fromB].map((lease) => lease.event.offset).sort((x, y) => x - y);
    expect(offsets).toEqual(Array.from({ length: total }, (_, i) => i));
    expect([...fromA, ...fromB].every((lease) => lease.attempt === 1)).toBe(true);
    expect(acks.length).toBe(total);
    expect(acks.every(Boolean)).toBe(true);
    expect(await a.subscriptionStats("sub", T0 + 3)).toEqual({
      backlog: 0,
      inFlight: 0,
      oldestUnackedPublishTime: undefined,
    });
    await a.close();
    await b.close();
  }, 60_000);

  it("settles waiting together on one partition give the results of settling one after the other", async () => {
    const [a, b] = await twoStores();
    const leases = await a.claim({
      subscription: "sub",
      topic: "t",
      partition: 0,
      consumer: "c",
      max: 10,
      maxBytes: 1 << 20,
      now: T0 + 1,
      leaseMs: 60_000,
      token: "k",
      autoAck: false,
    });
    const handle = (offset: number, token = "k") => [{ partition: 0, offset, token }];
    const now = T0 + 2;
    const results = await Promise.all([
      a.settle(ref, { kind: "ack", leases: handle(0), now }),
      a.settle(ref, { kind: "ack", leases: handle(0), now }), // acked just before: no longer matches
      a.settle(ref, { kind: "nack", leases: handle(1), now, until: now }),
      a.settle(ref, { kind: "extend", leases: handle(2), now, until: now + 120_000 }),
      a.settle(ref, { kind: "ack", leases: handle(3, "wrong"), now }),
      a.settle(ref, { kind: "ack", leases: [...handle(4), ...handle(99)], now, allOrNothing: true }),
      ...leases
        .slice(5)
        .map((lease) => a.settle(ref, { kind: "ack", leases: handle(lease.event.offset), now })),
    ]);
    expect(results).toEqual([
      [true],
      [false],
      [true],
      [true],
      [false],
      [true, false],
      ...leases.slice(5).map(() => [true]),
    ]);
    const again = await b.claim({
      subscription: "sub",
      topic: "t",
      partition: 0,
      consumer: "c",
      max: 3,
      maxBytes: 1 << 20,
      now: T0 + 61_001,
      leaseMs: 60_000,
      token: "k2",
      autoAck: false,
    });
    // 1 was nacked (attempt 2), 3 and 4 expired (after their retry delay, none here); 2 was extended
    expect(again.map((lease) => [lease.event.offset, lease.attempt])).toEqual([
      [1, 2],
      [3, 2],
      [4, 2],
    ]);
    await a.close();
    await b.close();
  });
});
