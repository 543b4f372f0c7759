import { type BrokerProcess, startBroker } from "@cebus/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createClient,
  createMemoryProcessedEvents,
  idempotent,
  type Message,
  processedKey,
} from "./index.node.js";

let broker: BrokerProcess;
beforeAll(async () => {
  broker = await startBroker({ store: "sqlite" });
});
afterAll(async () => {
  await broker[Symbol.asyncDispose]();
});

describe("idempotent handlers", () => {
  it("run each event once although the broker redelivers it, and ack the redeliveries", async () => {
    const cebus = createClient({ url: broker.url });
    await cebus.admin.createTopic("idem");
    await cebus.admin.createSubscription("idem-sub", { topic: "idem", ackDeadlineMs: 300 });
    await cebus.publish(
      "idem",
      Array.from({ length: 10 }, (_, n) => ({ id: `e${n}`, type: "t", source: "/s", data: { n } })),
    );
    const effects = new Map<string, number>();
    const processed = createMemoryProcessedEvents();
    // First pass: the effect runs but the ack is "lost" (never sent), so every lease expires and is redelivered.
    const handle = idempotent(
      processed,
      async (m: Message) => {
        effects.set(m.id, (effects.get(m.id) ?? 0) + 1);
      },
      { ack: false },
    );
    const subscription = cebus.subscribe("idem-sub");
    let duplicates = 0;
    for await (const message of subscription) {
      const { duplicate } = await handle(message);
      if (duplicate) {
        duplicates++;
        await message.ack();
      }
      if (duplicates === 10) break;
    }
    await subscription.close();
    expect([...effects.values()]).toEqual(Array(10).fill(1));
    expect(processed.size).toBe(10);
    await cebus.close();
  });

  it("leave nothing recorded when the handler throws, so the redelivery runs it again", async () => {
    const processed = createMemoryProcessedEvents();
    const message = { id: "x", source: "/s", ack: async () => {} } as unknown as Message;
    let calls = 0;
    const handle = idempotent(processed, async () => {
      calls++;
      if (calls === 1) throw new Error("database down");
    });
    await expect(handle(message)).rejects.toThrow("database down");
    expect(await handle(message)).toEqual({ duplicate: false });
    expect(await handle(message)).toEqual({ duplicate: true });
    expect(calls).toBe(2);
  });

  it("run the effect once for concurrent deliveries of one event", async () => {
    const processed = createMemoryProcessedEvents();
    let calls = 0;
    const results = await Promise.all(
      Array.from({ length: 5 }, () =>
        processed.runOnce("k", async () => {
          calls++;
          await new Promise((resolve) => setTimeout(resolve, 10));
        }),
      ),
    );
    expect(calls).toBe(1);
    expect(results.filter(Boolean)).toHaveLength(1);
  });

  it("key events by source and id, so equal ids from different sources stay distinct", () => {
    expect(processedKey({ source: "/a", id: "1" })).not.toBe(processedKey({ source: "/a1", id: "" }));
    expect(processedKey({ source: "/a", id: "1" })).toBe(processedKey({ source: "/a", id: "1" }));
  });
});
