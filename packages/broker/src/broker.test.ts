import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { CebusError, msToDuration } from "@cebus/core";
import { type Delivery, DeliveryMode, SubscriptionSchema, TopicSchema } from "@cebus/proto";
import { createMemoryStore } from "@cebus/store/memory";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Broker, createBroker } from "./broker.js";
import { event, rejected, take } from "./test-support.js";

let broker: Broker;

beforeEach(() => {
  broker = createBroker({
    store: createMemoryStore(),
    pollIntervalMs: 50,
    retentionIntervalMs: 0,
  });
});
afterEach(async () => {
  await broker.close();
});

async function setup(
  sub: Omit<MessageInitShape<typeof SubscriptionSchema>, "$typeName"> = {},
  partitions = 1,
): Promise<void> {
  await broker.createTopic(create(TopicSchema, { name: "orders", partitions }));
  await broker.createSubscription(
    create(SubscriptionSchema, {
      name: "billing",
      topic: "orders",
      startPosition: { position: { case: "earliest", value: {} } },
      ...sub,
    }),
  );
}

describe("publish", () => {
  it("returns offsets in order and marks a repeated (source, id) as a duplicate of the original", async () => {
    await setup();
    const first = await broker.publish("orders", [event("a"), event("b")]);
    expect(first.map((r) => [r.offset, r.duplicate])).toEqual([
      [0n, false],
      [1n, false],
    ]);
    const again = await broker.publish("orders", [event("c"), event("a")]);
    expect(again.map((r) => [r.offset, r.duplicate])).toEqual([
      [2n, false],
      [0n, true],
    ]);
    expect((await broker.topicStats("orders")).eventCount).toBe(3n);
  });

  it("sends one partition key to one partition", async () => {
    await setup({}, 8);
    const results = await broker.publish("orders", [
      event("1", { key: "k" }),
      event("2", { key: "k" }),
      event("3", { key: "k" }),
    ]);
    expect(new Set(results.map((r) => r.partition)).size).toBe(1);
  });

  it("rejects a batch with one invalid event and stores nothing", async () => {
    await setup();
    const error = await rejected(broker.publish("orders", [event("ok"), event("bad", { source: "" })]));
    expect(error.code).toBe("invalid_argument");
    expect(error.message).toContain("events[1].source is missing");
    expect((await broker.topicStats("orders")).eventCount).toBe(0n);
  });

  it("rejects an unknown topic with not_found and says how to create it", async () => {
    const error = await rejected(broker.publish("nope", [event("a")]));
    expect(error.code).toBe("not_found");
    expect(error.message).toBe("topic 'nope' does not exist; create it first (AdminService.CreateTopic)");
  });

  it("rejects an event over the topic's size limit and stores nothing", async () => {
    await broker.createTopic(create(TopicSchema, { name: "small", maxEventBytes: 1024n }));
    const error = await rejected(
      broker.publish("small", [event("big", { data: { case: "textData", value: "x".repeat(2000) } })]),
    );
    expect(error.code).toBe("invalid_argument");
    expect(error.message).toMatch(/accepts at most 1024/);
    expect((await broker.topicStats("small")).eventCount).toBe(0n);
  });
});

describe("admin", () => {
  it("creating a topic twice is already_exists, unless if_not_exists with the same settings", async () => {
    await broker.createTopic(create(TopicSchema, { name: "t" }));
    expect((await rejected(broker.createTopic(create(TopicSchema, { name: "t" })))).code).toBe(
      "already_exists",
    );
    await expect(
      broker.createTopic(create(TopicSchema, { name: "t" }), { ifNotExists: true }),
    ).resolves.toBeDefined();
    const other = await rejected(
      broker.createTopic(create(TopicSchema, { name: "t", partitions: 3 }), { ifNotExists: true }),
    );
    expect(other.message).toContain("exists with other settings");
  });

  it("a subscription on a missing topic is not_found and is not created", async () => {
    const error = await rejected(
      broker.createSubscription(create(SubscriptionSchema, { name: "s", topic: "missing" })),
    );
    expect(error.code).toBe("not_found");
    expect(await broker.listSubscriptions()).toEqual([]);
  });

  it("a bad filter is invalid_argument and creates nothing", async () => {
    await broker.createTopic(create(TopicSchema, { name: "t" }));
    const error = await rejected(
      broker.createSubscription(
        create(SubscriptionSchema, {
          name: "s",
          topic: "t",
          filter: { filter: { case: "exact", value: { attributes: {} } } },
        }),
      ),
    );
    expect(error.field).toBe("subscription.filter.exact");
    expect(await broker.listSubscriptions()).toEqual([]);
  });

  it("deleting a topic with subscriptions needs force", async () => {
    await setup();
    expect((await rejected(broker.deleteTopic("orders"))).code).toBe("failed_precondition");
    await broker.deleteTopic("orders", { force: true });
    expect(await broker.listTopics()).toEqual([]);
    expect(await broker.listSubscriptions()).toEqual([]);
  });

  it("a subscription starting at latest sees only later events", async () => {
    await broker.createTopic(create(TopicSchema, { name: "t" }));
    await broker.publish("t", [event("old")]);
    await broker.createSubscription(create(SubscriptionSchema, { name: "s", topic: "t" }));
    await broker.publish("t", [event("new")]);
    const consumer = await broker.openConsumer({ subscription: "s" });
    const got = await take(consumer, 2, 500);
    expect(got.map((d) => d.event?.id)).toEqual(["new"]);
  });
});

describe("at-least-once delivery", () => {
  it("delivers every event with attempt 1, and an acked event never comes back", async () => {
    await setup({ ackDeadline: msToDuration(200) });
    await broker.publish("orders", [event("a"), event("b"), event("c")]);
    const consumer = await broker.openConsumer({ subscription: "billing" });
    const got = await take(consumer, 3);
    expect(got.map((d) => [d.event?.id, d.attempt])).toEqual([
      ["a", 1],
      ["b", 1],
      ["c", 1],
    ]);
    expect(got[0]?.event?.attributes.sequence).toBeDefined();
    const outcomes = await broker.settle(
      "billing",
      "ack",
      got.map((d) => d.deliveryId),
    );
    expect(outcomes.every((o) => o.ok)).toBe(true);
    expect(await take(consumer, 1, 600)).toEqual([]);
    const stats = await broker.subscriptionStats("billing");
    expect([stats.backlog, stats.inFlight]).toEqual([0n, 0n]);
  });

  it("a nack with a delay redelivers with attempt 2", async () => {
    await setup();
    await broker.publish("orders", [event("a")]);
    const consumer = await broker.openConsumer({ subscription: "billing" });
    const [first] = await take(consumer, 1);
    await broker.settle("billing", "nack", [first?.deliveryId as string], { delayMs: 50 });
    const [second] = await take(consumer, 1);
    expect(second?.event?.id).toBe("a");
    expect(second?.attempt).toBe(2);
    expect(second?.deliveryId).not.toBe(first?.deliveryId);
  });

  it("an expired lease is redelivered, and the stale delivery id can no longer be acked", async () => {
    await setup({ ackDeadline: msToDuration(150) });
    await broker.publish("orders", [event("a")]);
    const consumer = await broker.openConsumer({ subscription: "billing" });
    const [first] = await take(consumer, 1);
    const [second] = await take(consumer, 1);
    expect(second?.attempt).toBe(2);
    const [stale] = await broker.settle("billing", "ack", [first?.deliveryId as string]);
    expect(stale?.ok).toBe(false);
    expect(stale?.error?.code).toBe("failed_precondition");
    expect(stale?.error?.message).toContain("settle the newest delivery");
  });

  it("a repeated ack of an acked delivery answers OK again (a resent request) and changes nothing", async () => {
    await setup();
    await broker.publish("orders", [event("a"), event("b")]);
    const consumer = await broker.openConsumer({ subscription: "billing" });
    const [a, b] = await take(consumer, 2);
    const ids = [a?.deliveryId as string];
    expect((await broker.settle("billing", "ack", ids))[0]?.ok).toBe(true);
    expect((await broker.settle("billing", "ack", ids))[0]?.ok).toBe(true);
    // In an all-or-nothing batch with a live delivery, the repeat does not fail the batch.
    const batch = [a?.deliveryId as string, b?.deliveryId as string];
    expect((await broker.settle("billing", "ack", batch, { allOrNothing: true })).map((o) => o.ok)).toEqual([
      true,
      true,
    ]);
    expect((await broker.subscriptionStats("billing")).inFlight).toBe(0n);
    // A nack of an acked delivery is still refused: only acks repeat.
    expect((await broker.settle("billing", "nack", ids))[0]?.error?.code).toBe("failed_precondition");
  });

  it("extending a lease keeps the event from being redelivered", async () => {
    await setup({ ackDeadline: msToDuration(200) });
    await broker.publish("orders", [event("a")]);
    const consumer = await broker.openConsumer({ subscription: "billing" });
    const [first] = await take(consumer, 1);
    const [extended] = await broker.settle("billing", "extend", [first?.deliveryId as string], {
      extensionMs: 5000,
    });
    expect(extended?.ok).toBe(true);
    expect(await take(consumer, 1, 500)).toEqual([]);
    expect((await broker.settle("billing", "ack", [first?.deliveryId as string]))[0]?.ok).toBe(true);
  });

  it("all-or-nothing settles change nothing when one id is stale", async () => {
    await setup();
    await broker.publish("orders", [event("a")]);
    const consumer = await broker.openConsumer({ subscription: "billing" });
    const [first] = await take(consumer, 1);
    const outcomes = await broker.settle("billing", "ack", [first?.deliveryId as string, "0.0.lbogus"], {
      allOrNothing: true,
    });
    expect(outcomes.map((o) => o.ok)).toEqual([false, false]);
    expect((await broker.subscriptionStats("billing")).inFlight).toBe(1n);
  });

  it("never holds more unacked events than the consumer's window", async () => {
    await setup();
    await broker.publish(
      "orders",
      Array.from({ length: 20 }, (_, i) => event(`e${i}`)),
    );
    const consumer = await broker.openConsumer({ subscription: "billing", flow: { maxEvents: 5 } });
    const first = await take(consumer, 20, 400);
    expect(first).toHaveLength(5);
    await broker.settle(
      "billing",
      "ack",
      first.slice(0, 2).map((d) => d.deliveryId),
    );
    const more = await take(consumer, 20, 400);
    expect(more).toHaveLength(2);
  });

  it("a consumer that closes hands its in-flight events to another consumer at once", async () => {
    await setup({ ackDeadline: msToDuration(60_000) });
    await broker.publish("orders", [event("a"), event("b")]);
    const leaving = await broker.openConsumer({ subscription: "billing" });
    expect(await take(leaving, 2)).toHaveLength(2);
    await leaving.close();
    const staying = await broker.openConsumer({ subscription: "billing" });
    const got = await take(staying, 2);
    expect(got.map((d) => [d.event?.id, d.attempt])).toEqual([
      ["a", 2],
      ["b", 2],
    ]);
  });

  it("ending a consumer by id releases what it holds, read or not, to another consumer at once", async () => {
    await setup({ ackDeadline: msToDuration(60_000) });
    await broker.publish("orders", [event("a"), event("b"), event("c")]);
    const leaving = await broker.openConsumer({ subscription: "billing" });
    expect(await take(leaving, 1)).toHaveLength(3); // one batch: all three are leased to it
    expect(await broker.endConsumer("billing", leaving.id)).toBe(3);
    const staying = await broker.openConsumer({ subscription: "billing" });
    expect((await take(staying, 3)).map((d) => d.event?.id)).toEqual(["a", "b", "c"]);
  });

  it("ending an unknown consumer is not_found, names the subscription and changes nothing", async () => {
    await setup({ ackDeadline: msToDuration(60_000) });
    await broker.publish("orders", [event("a")]);
    const holder = await broker.openConsumer({ subscription: "billing" });
    expect(await take(holder, 1)).toHaveLength(1);
    const error = await broker.endConsumer("billing", "no-such-consumer").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CebusError);
    expect(error).toMatchObject({ code: "not_found", message: expect.stringContaining("billing") });
    expect((await broker.subscriptionStats("billing")).inFlight).toBe(1n);
  });

  it("competing consumers share a subscription's events without overlap", async () => {
    await setup();
    const one = await broker.openConsumer({ subscription: "billing", flow: { maxEvents: 3 } });
    const two = await broker.openConsumer({ subscription: "billing", flow: { maxEvents: 3 } });
    await broker.publish(
      "orders",
      Array.from({ length: 6 }, (_, i) => event(`e${i}`)),
    );
    const [a, b] = await Promise.all([take(one, 3), take(two, 3)]);
    const ids = [...a, ...b].map((d) => d.event?.id).sort();
    expect(ids).toEqual(["e0", "e1", "e2", "e3", "e4", "e5"]);
  });
});

describe("at-most-once delivery", () => {
  it("never redelivers, even when the consumer does not ack", async () => {
    await setup({ deliveryMode: DeliveryMode.AT_MOST_ONCE, ackDeadline: msToDuration(100) });
    await broker.publish("orders", [event("a")]);
    const consumer = await broker.openConsumer({ subscription: "billing" });
    expect(await take(consumer, 1)).toHaveLength(1);
    await consumer.close();
    const next = await broker.openConsumer({ subscription: "billing" });
    expect(await take(next, 1, 500)).toEqual([]);
  });
});

describe("dead-lettering and filters", () => {
  it("after max attempts the event goes to the dead-letter topic with the reason and attempt count", async () => {
    await broker.createTopic(create(TopicSchema, { name: "orders-dlq" }));
    await setup({ maxDeliveryAttempts: 2, deadLetterTopic: "orders-dlq" });
    await broker.createSubscription(
      create(SubscriptionSchema, {
        name: "dlq-reader",
        topic: "orders-dlq",
        startPosition: { position: { case: "earliest", value: {} } },
      }),
    );
    await broker.publish("orders", [event("a")]);
    const consumer = await broker.openConsumer({ subscription: "billing" });
    for (let attempt = 1; attempt <= 2; attempt++) {
      const [d] = await take(consumer, 1);
      expect(d?.attempt).toBe(attempt);
      await broker.settle("billing", "nack", [d?.deliveryId as string], { delayMs: 10 });
    }
    const dlq = await broker.openConsumer({ subscription: "dlq-reader" });
    const [dead] = await take(dlq, 1);
    expect(dead?.event?.id).toBe("a");
    expect(dead?.event?.attributes.deadletterreason?.attr.value).toBe("max delivery attempts reached");
    expect(dead?.event?.attributes.deliveryattempts?.attr.value).toBe(2);
    expect(dead?.event?.attributes.originalsubscription?.attr.value).toBe("billing");
    expect(await take(consumer, 1, 300)).toEqual([]);
  });

  it("term sends the event to the dead-letter topic at once with the consumer's reason", async () => {
    await broker.createTopic(create(TopicSchema, { name: "orders-dlq" }));
    await setup({ deadLetterTopic: "orders-dlq" });
    await broker.publish("orders", [event("a")]);
    const consumer = await broker.openConsumer({ subscription: "billing" });
    const [d] = await take(consumer, 1);
    const [outcome] = await broker.settle("billing", "term", [d?.deliveryId as string], { reason: "poison" });
    expect(outcome?.ok).toBe(true);
    expect((await broker.topicStats("orders-dlq")).eventCount).toBe(1n);
  });

  it("a filter that rejects almost every event leases only the matches: nothing else is ever in flight", async () => {
    await setup({ filter: { filter: { case: "exact", value: { attributes: { type: "keep.me" } } } } }, 4);
    const drops = Array.from({ length: 3000 }, (_, i) => event(`d${i}`, { type: "drop.me" }));
    for (let i = 0; i < drops.length; i += 500) await broker.publish("orders", drops.slice(i, i + 500));
    await broker.publish("orders", [event("k1", { type: "keep.me" })]);
    const consumer = await broker.openConsumer({ subscription: "billing", flow: { maxEvents: 2 } });
    const [kept] = await take(consumer, 1);
    expect(kept?.event?.id).toBe("k1");
    const stats = await broker.subscriptionStats("billing");
    expect([stats.inFlight, stats.backlog]).toEqual([1n, 0n]);
    await broker.settle("billing", "ack", [kept?.deliveryId as string]);
    expect((await broker.subscriptionStats("billing")).inFlight).toBe(0n);
  });

  it("events that do not match the filter are never delivered", async () => {
    await setup({ filter: { filter: { case: "prefix", value: { attributes: { type: "keep." } } } } });
    await broker.publish("orders", [event("a", { type: "drop.me" }), event("b", { type: "keep.me" })]);
    const consumer = await broker.openConsumer({ subscription: "billing" });
    const got = await take(consumer, 2, 500);
    expect(got.map((d) => d.event?.id)).toEqual(["b"]);
  });
});

describe("seek", () => {
  it("seeking to earliest delivers acked events again", async () => {
    await setup();
    await broker.publish("orders", [event("a")]);
    const consumer = await broker.openConsumer({ subscription: "billing" });
    const [d] = await take(consumer, 1);
    await broker.settle("billing", "ack", [d?.deliveryId as string]);
    await broker.seek("billing", {
      $typeName: "cebus.v1.Position",
      position: { case: "earliest", value: { $typeName: "google.protobuf.Empty" } },
    });
    const [again] = await take(consumer, 1);
    expect(again?.event?.id).toBe("a");
  });
});

describe("ordered subscriptions", () => {
  it("delivers one event per key at a time in publish order; a nack holds the key; other keys flow", async () => {
    await setup({ ordered: true }, 2);
    await broker.publish("orders", [
      event("a1", { key: "a" }),
      event("b1", { key: "b" }),
      event("a2", { key: "a" }),
      event("b2", { key: "b" }),
    ]);
    const consumer = await broker.openConsumer({ subscription: "billing" });
    const first = await take(consumer, 2);
    expect(first.map((d) => d.event?.id).sort()).toEqual(["a1", "b1"]);
    const a1 = first.find((d) => d.event?.id === "a1") as Delivery;
    const b1 = first.find((d) => d.event?.id === "b1") as Delivery;
    await broker.settle("billing", "ack", [b1.deliveryId]);
    await broker.settle("billing", "nack", [a1.deliveryId], { delayMs: 100 });
    const next = await take(consumer, 2);
    expect(next.map((d) => [d.event?.id, d.attempt])).toEqual([
      ["b2", 1],
      ["a1", 2],
    ]);
    await broker.settle("billing", "ack", [(next[1] as Delivery).deliveryId]);
    const [last] = await take(consumer, 1);
    expect(last?.event?.id).toBe("a2");
  });
});

describe("replay and dead-letter redrive", () => {
  it("reads a topic range; below the oldest retained offset is out_of_range", async () => {
    await broker.createTopic(create(TopicSchema, { name: "log", retention: msToDuration(1000) }));
    await broker.publish("log", [event("1"), event("2"), event("3")]);
    const { records, nextOffset } = await broker.readTopic("log", 0, 1, 10);
    expect(records.map((r) => r.event?.id)).toEqual(["2", "3"]);
    expect(nextOffset).toBe(3);
    expect((await rejected(broker.readTopic("log", 0, 7, 10))).code).toBe("out_of_range");
  });

  it("retention removes old events and moves the floor; reading below it is out_of_range", async () => {
    let clock = Date.now();
    const timed = createBroker({
      store: createMemoryStore(),
      now: () => clock,
      retentionIntervalMs: 0,
    });
    await timed.createTopic(create(TopicSchema, { name: "log", retention: msToDuration(1000) }));
    await timed.publish("log", [event("old")]);
    clock += 2000;
    await timed.publish("log", [event("new")]);
    expect(await timed.applyRetention()).toBe(1);
    expect((await rejected(timed.readTopic("log", 0, 0, 10))).code).toBe("out_of_range");
    expect((await timed.readTopic("log", 0, 1, 10)).records.map((r) => r.event?.id)).toEqual(["new"]);
    await timed.close();
  });

  it("lists dead letters with their reason and redrives them to the original subscription only", async () => {
    await broker.createTopic(create(TopicSchema, { name: "orders-dlq" }));
    await setup({ deadLetterTopic: "orders-dlq" });
    await broker.createSubscription(
      create(SubscriptionSchema, {
        name: "audit",
        topic: "orders",
        startPosition: { position: { case: "earliest", value: {} } },
      }),
    );
    await broker.publish("orders", [event("poison")]);
    const billing = await broker.openConsumer({ subscription: "billing" });
    const [d] = await take(billing, 1);
    await broker.settle("billing", "term", [d?.deliveryId as string], { reason: "cannot parse" });
    const audit = await broker.openConsumer({ subscription: "audit" });
    const [seen] = await take(audit, 1);
    await broker.settle("audit", "ack", [seen?.deliveryId as string]);
    const [dead] = await broker.listDeadLetters("billing");
    expect([dead?.event?.id, dead?.reason, dead?.attempts]).toEqual(["poison", "cannot parse", 1]);
    expect(await broker.redriveDeadLetters("billing")).toBe(1);
    const [again] = await take(billing, 1);
    expect([again?.event?.id, again?.attempt]).toEqual(["poison", 1]);
    expect(await take(audit, 1, 400)).toEqual([]);
  });
});
