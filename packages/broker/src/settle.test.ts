import { create } from "@bufbuild/protobuf";
import { msToDuration } from "@cebus/core";
import { RetryPolicySchema, SubscriptionSchema, TopicSchema } from "@cebus/proto";
import type { Store } from "@cebus/store";
import { retryDelay, retrySchedule } from "@cebus/store/delivery";
import { createMemoryStore } from "@cebus/store/memory";
import { afterEach, describe, expect, it } from "vitest";
import { type Broker, createBroker } from "./broker.js";
import { parseDeliveryId } from "./delivery-id.js";
import { event, rejected, take } from "./test-support.js";

const retryPolicy = create(RetryPolicySchema, {
  minimumBackoff: msToDuration(100),
  maximumBackoff: msToDuration(10_000),
  multiplier: 4,
});
const open: Broker[] = [];
afterEach(async () => {
  for (const broker of open.splice(0)) await broker.close();
});

/** Two broker processes over one store (as over one shared backend), on one clock the test moves. */
async function twoBrokers(store: Store, clock: { now: number }): Promise<[Broker, Broker]> {
  const make = () =>
    createBroker({ store, pollIntervalMs: 20, retentionIntervalMs: 0, now: () => clock.now });
  const a = make();
  const b = make();
  open.push(a, b);
  await a.createTopic(create(TopicSchema, { name: "orders" }));
  await a.createTopic(create(TopicSchema, { name: "orders-dlq" }));
  await a.createSubscription(
    create(SubscriptionSchema, {
      name: "billing",
      topic: "orders",
      ackDeadline: msToDuration(60_000),
      retryPolicy,
      deadLetterTopic: "orders-dlq",
      startPosition: { position: { case: "earliest", value: {} } },
    }),
  );
  return [a, b];
}

const delay = (attempt: number) =>
  retryDelay(retrySchedule(retryPolicy), { subscription: "billing", partition: 0, offset: 0, attempt });

describe("settle across broker processes", () => {
  it("a nack sent to another broker process waits the backoff of the attempt the store holds, not attempt 1's", async () => {
    const store = createMemoryStore();
    const clock = { now: 1_800_000_000_000 };
    const [a, b] = await twoBrokers(store, clock);
    await a.publish("orders", [event("e1")]);
    const consumer = await a.openConsumer({ subscription: "billing" });
    const [first] = await take(consumer, 1);
    await a.settle("billing", "nack", [first?.deliveryId as string]);
    clock.now += delay(1);
    consumer.setFlow({ maxEvents: 10, maxBytes: 1 << 20 }); // wakes the consumer at the moved clock
    const [second] = await take(consumer, 1);
    expect(second?.attempt).toBe(2);
    const [outcome] = await b.settle("billing", "nack", [second?.deliveryId as string]);
    expect(outcome?.ok).toBe(true);
    const claim = (now: number, token: string) =>
      store.claim({ ...claimOf(now, token), subscription: "billing", topic: "orders" });
    expect([...(await claim(clock.now + delay(2) - 1, "early"))]).toEqual([]);
    expect((await claim(clock.now + delay(2), "due")).map((lease) => lease.attempt)).toEqual([3]);
    expect(delay(2)).toBeGreaterThan(delay(1)); // attempt 1's backoff would have made it visible sooner
  });

  it("a term moves the event to the dead-letter topic and ends its lease in one step; a stale term moves nothing", async () => {
    const store = createMemoryStore();
    const clock = { now: 1_800_000_000_000 };
    const [a, b] = await twoBrokers(store, clock);
    await a.publish("orders", [event("e1"), event("e2")]);
    const consumer = await a.openConsumer({ subscription: "billing" });
    const [d1, d2] = await take(consumer, 2);
    const [termed] = await b.settle("billing", "term", [d1?.deliveryId as string], { reason: "poison" });
    expect(termed?.ok).toBe(true);
    const [again] = await a.settle("billing", "term", [d1?.deliveryId as string]);
    expect(again?.error?.code).toBe("failed_precondition");
    expect((await a.topicStats("orders-dlq")).eventCount).toBe(1n);
    const [dead] = await a.listDeadLetters("billing");
    expect([dead?.event?.id, dead?.reason, dead?.attempts]).toEqual(["e1", "poison", 1]);
    expect((await a.settle("billing", "ack", [d2?.deliveryId as string]))[0]?.ok).toBe(true);
    expect((await a.subscriptionStats("billing")).inFlight).toBe(0n);
  });

  it("delivery ids carry the attempt; ids of the older form still settle", async () => {
    const store = createMemoryStore();
    const clock = { now: 1_800_000_000_000 };
    const [a] = await twoBrokers(store, clock);
    await a.publish("orders", [event("e1")]);
    const consumer = await a.openConsumer({ subscription: "billing" });
    const [d] = await take(consumer, 1);
    const ref = parseDeliveryId(d?.deliveryId as string);
    expect(ref?.attempt).toBe(1);
    const older = `${ref?.partition}.${ref?.offset}.${ref?.token}`;
    expect(parseDeliveryId(older)?.attempt).toBeUndefined();
    expect((await a.settle("billing", "ack", [older]))[0]?.ok).toBe(true);
    const malformed = await rejected(a.settle("billing", "ack", []));
    expect(malformed.code).toBe("invalid_argument");
  });
});

function claimOf(now: number, token: string) {
  return {
    partition: 0,
    consumer: "test",
    max: 10,
    maxBytes: 1 << 20,
    now,
    leaseMs: 1000,
    token,
    autoAck: false,
  };
}
