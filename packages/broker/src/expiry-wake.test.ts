import { create } from "@bufbuild/protobuf";
import { msToDuration } from "@cebus/core";
import { CloudEventSchema, SubscriptionSchema, TopicSchema } from "@cebus/proto";
import { createMemoryStore } from "@cebus/store/memory";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Broker, createBroker } from "./broker.js";
import type { Consumer } from "./consumer.js";
import { eventOf } from "./delivery-event.js";

// Polls that would find work only after a minute: every redelivery below must come from the consumer's own wake.
let broker: Broker;
beforeEach(() => {
  broker = createBroker({
    store: createMemoryStore(),
    pollIntervalMs: 60_000,
    maxPollIntervalMs: 60_000,
    retentionIntervalMs: 0,
  });
});
afterEach(async () => {
  await broker.close();
});

async function setup(retry: { minMs: number; maxMs: number; jitter: number }): Promise<void> {
  await broker.createTopic(create(TopicSchema, { name: "orders", partitions: 1 }));
  await broker.createSubscription(
    create(SubscriptionSchema, {
      name: "billing",
      topic: "orders",
      ackDeadline: msToDuration(100),
      retryPolicy: {
        minimumBackoff: msToDuration(retry.minMs),
        maximumBackoff: msToDuration(retry.maxMs),
        multiplier: 2,
        jitter: retry.jitter,
      },
      startPosition: { position: { case: "earliest", value: {} } },
    }),
  );
}

/** Publishes `count` events in separate calls, `gapMs` apart, so their leases expire at different times. */
async function publishApart(count: number, gapMs: number): Promise<void> {
  for (let n = 0; n < count; n++) {
    const e = create(CloudEventSchema, { id: `e${n}`, source: "/test", specVersion: "1.0", type: "t" });
    await broker.publish("orders", [e]);
    await new Promise((resolve) => setTimeout(resolve, gapMs));
  }
}

/** Acks redeliveries until each of `count` events came back with attempt 2, or `ms` passed; returns their ids. */
async function redeliveries(consumer: Consumer, count: number, ms: number): Promise<Set<string>> {
  const iterator = consumer.deliveries[Symbol.asyncIterator]();
  const again = new Set<string>();
  const timeout = new Promise<"timeout">((resolve) => setTimeout(() => resolve("timeout"), ms));
  while (again.size < count) {
    const next = await Promise.race([iterator.next(), timeout]);
    if (next === "timeout" || next.done) break;
    for (const d of next.value.filter((x) => x.attempt === 2)) {
      again.add(eventOf(d)?.id ?? "");
      await broker.settle("billing", "ack", [d.deliveryId]); // nothing else left to wake the consumer
    }
  }
  return again;
}

describe("redelivery after an expired lease", () => {
  it("with jitter, the consumer wakes when the store makes each event visible again (not at the next poll)", async () => {
    await setup({ minMs: 100, maxMs: 400, jitter: 0.9 });
    const consumer = await broker.openConsumer({ subscription: "billing" });
    await publishApart(8, 0);
    expect(await redeliveries(consumer, 8, 10_000)).toHaveProperty("size", 8);
  });

  it("leases that expire a few ms apart each wake the consumer after their own backoff", async () => {
    await setup({ minMs: 150, maxMs: 150, jitter: 0 });
    const consumer = await broker.openConsumer({ subscription: "billing" });
    await publishApart(6, 15);
    expect(await redeliveries(consumer, 6, 10_000)).toHaveProperty("size", 6);
  });
});

describe("an idle consumer and leases it does not hold", () => {
  it("wakes when a lease left by an earlier broker over the same store becomes claimable, not at the next poll", async () => {
    const store = createMemoryStore();
    const earlier = createBroker({ store, pollIntervalMs: 60_000, retentionIntervalMs: 0 });
    const swap = broker;
    broker = earlier;
    await setup({ minMs: 150, maxMs: 150, jitter: 0 });
    await publishApart(1, 0);
    const gone = await earlier.openConsumer({ subscription: "billing" });
    const first = await gone.deliveries[Symbol.asyncIterator]().next();
    expect(first.value?.[0]?.attempt).toBe(1);
    await gone.close({ release: false }); // the lease stays until its deadline, as after a crash
    broker = createBroker({
      store,
      pollIntervalMs: 60_000,
      maxPollIntervalMs: 60_000,
      retentionIntervalMs: 0,
    });
    try {
      const consumer = await broker.openConsumer({ subscription: "billing" });
      expect(await redeliveries(consumer, 1, 5_000)).toHaveProperty("size", 1);
    } finally {
      await earlier.close();
      await swap.close();
    }
  });
});
