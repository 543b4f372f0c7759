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
describeStoreContract("redis", {
  open: async () => {
    namespace = `t${Math.random().toString(36).slice(2, 10)}`;
    return openRedisStore(server.url, { namespace });
  },
  reopen: async () => openRedisStore(server.url, { namespace }),
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
