import { create } from "@bufbuild/protobuf";
import { type Broker, createBroker } from "@cebus/broker";
import { CloudEventSchema, type Delivery, SubscriptionSchema, TopicSchema } from "@cebus/proto";
import { createSqliteStore } from "@cebus/store-sqlite";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createAckCoalescer } from "./ack-coalescer.js";

let broker: Broker;
let settleCalls: string[][];

beforeEach(async () => {
  const real = createBroker({ store: createSqliteStore({ path: ":memory:" }), retentionIntervalMs: 0 });
  settleCalls = [];
  // The real broker, with its settle calls recorded.
  broker = {
    ...real,
    settle: (subscription, kind, ids, options) => {
      settleCalls.push(ids);
      return real.settle(subscription, kind, ids, options);
    },
  } as Broker;
  afterEach(() => real.close());
  await real.createTopic(create(TopicSchema, { name: "orders", partitions: 1 }));
  await real.createSubscription(
    create(SubscriptionSchema, {
      name: "billing",
      topic: "orders",
      startPosition: { position: { case: "earliest", value: {} } },
    }),
  );
  await real.publish(
    "orders",
    Array.from({ length: 20 }, (_, i) =>
      create(CloudEventSchema, { id: `e${i}`, source: "/t", specVersion: "1.0", type: "t" }),
    ),
  );
});

async function receive(count: number): Promise<Delivery[]> {
  const consumer = await broker.openConsumer({
    subscription: "billing",
    flow: { maxEvents: 100, maxBytes: 0 },
  });
  const got: Delivery[] = [];
  for await (const batch of consumer.deliveries) {
    got.push(...batch);
    if (got.length >= count) break;
  }
  return got;
}

describe("ack coalescer", () => {
  it("concurrent single-delivery acks reach the store in fewer calls, each caller getting its own outcome", async () => {
    const deliveries = await receive(20);
    const acks = createAckCoalescer(broker);
    const outcomes = await Promise.all([
      ...deliveries.map((d) => acks.ack("billing", d.deliveryId)),
      acks.ack("billing", "0.0.stale-token"),
    ]);
    expect(outcomes.slice(0, 20).every((o) => o.ok)).toBe(true);
    const stale = outcomes[20];
    expect(stale?.ok).toBe(false);
    expect(stale?.error?.code).toMatch(/failed_precondition|invalid_argument/);
    expect(settleCalls.length).toBeLessThan(21);
    expect(settleCalls.flat()).toHaveLength(21);
    // Acked for good: nothing is delivered again.
    const stats = await broker.subscriptionStats("billing");
    expect([stats.inFlight, stats.backlog]).toEqual([0n, 0n]);
  });

  it("a failing settle call rejects every ack waiting on it and leaves later acks working", async () => {
    const acks = createAckCoalescer(broker);
    await expect(acks.ack("no-such-subscription", "0.0.x")).rejects.toThrow(/no-such-subscription/);
    const [d] = await receive(1);
    expect((await acks.ack("billing", (d as Delivery).deliveryId)).ok).toBe(true);
  });
});
