import { type BrokerProcess, startBroker } from "@cebus/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CebusError, createClient } from "./index.node.js";

// A broker that holds at most one batch waiting for its store: concurrent publishes beyond it are refused.
let broker: BrokerProcess;
beforeAll(async () => {
  broker = await startBroker({ store: "sqlite", args: ["--max-pending-publish-bytes", "1"] });
});
afterAll(async () => {
  await broker[Symbol.asyncDispose]();
});

const batch = (prefix: string) =>
  Array.from({ length: 10 }, (_, i) => ({
    id: `${prefix}-${i}`,
    type: "t",
    source: "/s",
    data: "x".repeat(300),
  }));

describe("@cebus/client under the broker's backpressure", () => {
  it("a client told not to retry sees resource_exhausted with a retry hint, and the refused batches are not stored", async () => {
    const cebus = createClient({ url: broker.url, backpressureRetryMs: 0 });
    await cebus.admin.createTopic("refused");
    const outcomes = await Promise.all(
      Array.from({ length: 50 }, (_, n) => cebus.publish("refused", batch(`b${n}`)).catch((e: unknown) => e)),
    );
    const refused = outcomes.filter((o): o is CebusError => o instanceof CebusError);
    expect(refused.length).toBeGreaterThan(0);
    expect(refused[0]).toMatchObject({ code: "resource_exhausted", retryAfterMs: 100 });
    const stored = (50 - refused.length) * 10;
    expect(Number((await cebus.admin.topicStats("refused")).eventCount)).toBe(stored);
    await cebus.close();
  });

  it("by default the client backs off and publishes again until every batch is stored, none twice", async () => {
    const cebus = createClient({ url: broker.url });
    await cebus.admin.createTopic("retried");
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, n) => cebus.publish("retried", batch(`b${n}`))),
    );
    expect(results.flat().filter((r) => r.duplicate)).toEqual([]);
    expect(Number((await cebus.admin.topicStats("retried")).eventCount)).toBe(500);
    await cebus.close();
  });
});
