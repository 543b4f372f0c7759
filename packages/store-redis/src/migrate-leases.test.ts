import { create, toBinary } from "@bufbuild/protobuf";
import { SubscriptionSchema, TopicSchema } from "@cebus/proto";
import type { ClaimRequest } from "@cebus/store";
import { type RedisServer, startRedis } from "@cebus/testing";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openRedisStore } from "./connect.js";

let server: RedisServer;
let redis: Redis;
beforeAll(async () => {
  server = await startRedis();
  redis = new Redis(server.url);
}, 120_000);
afterAll(async () => {
  redis?.disconnect();
  await server?.[Symbol.asyncDispose]();
});

const T0 = 1_800_000_000_000;
const ref = { subscription: "sub", topic: "t" };
const claimRequest = (overrides: Partial<ClaimRequest> = {}): ClaimRequest => ({
  subscription: "sub",
  topic: "t",
  partition: 0,
  consumer: "c",
  max: 10,
  maxBytes: 1 << 20,
  now: T0 + 1,
  leaseMs: 1000,
  token: "new",
  autoAck: false,
  ordered: true,
  ...overrides,
});

/**
 * A namespace holding topic "t" (one partition, offsets 0-6; 2 and 3 with key "x") and subscription "sub" in the
 * version 1 layout, written by hand: cursor 5; offset 0 held (token a), 1 nacked after attempt 2 (visible at T0),
 * 2 held with key x (token c), 3 parked behind 2, and 6 requeued past the cursor (the old bug).
 */
async function legacyNamespace(): Promise<string> {
  const ns = `m${Math.random().toString(36).slice(2, 8)}`;
  const store = await openRedisStore(server.url, { namespace: ns });
  await store.createTopic(create(TopicSchema, { name: "t", partitions: 1 }));
  const keyOf = (offset: number) => (offset === 2 || offset === 3 ? "x" : undefined);
  const events = Array.from({ length: 7 }, (_, i) => ({
    partition: 0,
    source: "/m",
    id: `e${i}`,
    key: keyOf(i),
    data: new Uint8Array([i]),
  }));
  await store.append("t", events, { now: T0, dedupeSince: T0 + 1 });
  await store.close();
  const base = `${ns}:{t}`;
  const held = T0 + 60_000;
  const subscription = create(SubscriptionSchema, { name: "sub", topic: "t" });
  await redis.hset(`${ns}:subscriptions`, "sub", Buffer.from(toBinary(SubscriptionSchema, subscription)));
  await redis.hset(`${base}:c:sub`, "0", "5");
  await redis.hset(`${base}:l:sub:0`, {
    "0": `1|a|${held}|1|0|`,
    "1": `2|b|${T0}|0|0|`,
    "2": `1|c|${held}|1|1|x`,
    "3": "0||0|0|1|x",
    "6": `0||${T0}|0|0|`,
  });
  await redis.zadd(`${base}:v:sub:0`, held, "0", T0, "1", held, "2", 0, "3", T0, "6");
  await redis.zadd(`${base}:k:sub:0:x`, 2, "2", 3, "3");
  return ns;
}

describe("redis store - converting the version 1 lease layout when opened", () => {
  it("keeps held, nacked and parked leases, drops a lease past the cursor and deletes the old keys", async () => {
    const ns = await legacyNamespace();
    const store = await openRedisStore(server.url, { namespace: ns });
    const base = `${ns}:{t}`;
    expect(
      await redis.exists(`${base}:c:sub`, `${base}:l:sub:0`, `${base}:v:sub:0`, `${base}:k:sub:0:x`),
    ).toBe(0);

    const ack = await store.settle(ref, {
      kind: "ack",
      leases: [{ partition: 0, offset: 0, token: "a" }],
      now: T0,
    });
    expect(ack).toEqual([true]); // a held lease still acks with its token

    const claimed = await store.claim(claimRequest());
    const seen = claimed.map((lease) => [lease.event.offset, lease.attempt]);
    // 1 comes back with its attempt; 3 stays behind 2 (held, key x); 4 was acked; 6 comes once, from the cursor
    expect(seen).toEqual([
      [1, 3],
      [5, 1],
      [6, 1],
    ]);

    const ackKey = { kind: "ack" as const, leases: [{ partition: 0, offset: 2, token: "c" }], now: T0 + 2 };
    expect(await store.settle(ref, ackKey)).toEqual([true]);
    const parked = await store.claim(claimRequest({ now: T0 + 3, token: "later" }));
    expect(parked.map((lease) => [lease.event.offset, lease.attempt])).toEqual([[3, 1]]);
    await store.close();
  });

  it("converts once: opening again leaves the converted state as it is", async () => {
    const ns = await legacyNamespace();
    const first = await openRedisStore(server.url, { namespace: ns });
    expect((await first.claim(claimRequest())).map((lease) => lease.event.offset)).toEqual([1, 5, 6]);
    await first.close();
    const second = await openRedisStore(server.url, { namespace: ns });
    expect([...(await second.claim(claimRequest({ token: "again" })))]).toEqual([]);
    expect(await second.subscriptionStats("sub", T0 + 2)).toMatchObject({ inFlight: 5, backlog: 1 });
    await second.close();
  });
});
