import { create } from "@bufbuild/protobuf";
import { SubscriptionSchema, TopicSchema } from "@cebus/proto";
import { describeStoreContract } from "@cebus/store/contract";
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

let namespace = "";
describeStoreContract(
  "redis",
  {
    open: async () => {
      namespace = `t${Math.random().toString(36).slice(2, 10)}`;
      return openRedisStore(server.url, { namespace });
    },
    reopen: async () => openRedisStore(server.url, { namespace }),
  },
  { model: { numRuns: 100 } },
);

describe("redis store across broker processes", () => {
  it("tells every store over the same Redis about new events and nacked events", async () => {
    const ns = `w${Math.random().toString(36).slice(2, 8)}`;
    const a = await openRedisStore(server.url, { namespace: ns });
    const b = await openRedisStore(server.url, { namespace: ns });
    const seen: unknown[] = [];
    b.watch?.((change) => seen.push(change));
    await new Promise((resolve) => setTimeout(resolve, 200)); // b's SUBSCRIBE is in place
    await a.createTopic(create(TopicSchema, { name: "w", partitions: 1 }));
    await a.createSubscription(create(SubscriptionSchema, { name: "w-sub", topic: "w" }), [0]);
    const now = Date.now();
    await a.append(
      "w",
      [{ partition: 0, source: "/s", id: "1", key: undefined, data: new Uint8Array([1]) }],
      {
        now,
        dedupeSince: now - 1000,
      },
    );
    const [lease] = await a.claim({
      subscription: "w-sub",
      topic: "w",
      partition: 0,
      consumer: "c",
      max: 1,
      maxBytes: 1 << 20,
      now,
      leaseMs: 1000,
      token: "tk",
      autoAck: false,
    });
    await a.settle(
      { subscription: "w-sub", topic: "w" },
      {
        kind: "nack",
        leases: [{ partition: 0, offset: lease?.event.offset ?? -1, token: "tk" }],
        now,
        until: now + 500,
      },
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(seen).toEqual([{ topic: "w" }, { topic: "w", subscription: "w-sub", at: now + 500 }]);
    await a.close();
    await b.close();
  });
});

describe("redis store connection", () => {
  it("fails with one line naming the URL and the cause when nothing listens there", async () => {
    await expect(openRedisStore("redis://127.0.0.1:1/0", { connectTimeoutMs: 1000 })).rejects.toThrow(
      /^cannot use Redis at redis:\/\/127\.0\.0\.1:1\/0: .*is redis-server running there\?$/,
    );
  });

  it("hides the password and says authentication failed when it is wrong", async () => {
    await expect(openRedisStore(`redis://user:secret@127.0.0.1:${server.port}/0`)).rejects.toThrow(
      /redis:\/\/user:\*\*\*@127\.0\.0\.1:\d+\/0: authentication failed/,
    );
  });
});
