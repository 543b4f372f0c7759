import { create } from "@bufbuild/protobuf";
import { type Broker, type Consumer, createBroker } from "@cebus/broker";
import {
  CloudEventSchema,
  type ConsumeResponse,
  type Delivery,
  SubscriptionSchema,
  TopicSchema,
} from "@cebus/proto";
import { createSqliteStore } from "@cebus/store-sqlite";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createStreamSettles } from "./stream-settles.js";

let broker: Broker;
let consumer: Consumer;
let settleCalls: number[];

beforeEach(async () => {
  broker = createBroker({ store: createSqliteStore({ path: ":memory:" }), retentionIntervalMs: 0 });
  await broker.createTopic(create(TopicSchema, { name: "orders", partitions: 1 }));
  await broker.createSubscription(
    create(SubscriptionSchema, {
      name: "billing",
      topic: "orders",
      startPosition: { position: { case: "earliest", value: {} } },
    }),
  );
  await broker.publish(
    "orders",
    Array.from({ length: 20 }, (_, i) =>
      create(CloudEventSchema, { id: `e${i}`, source: "/t", specVersion: "1.0", type: "t" }),
    ),
  );
  const real = await broker.openConsumer({ subscription: "billing" });
  settleCalls = [];
  // The real consumer, with the number of ids of each settle call recorded.
  consumer = {
    ...real,
    deliveries: real.deliveries,
    settle: (kind, ids, options) => {
      settleCalls.push(ids.length);
      return real.settle(kind, ids, options);
    },
  };
});
afterEach(() => broker.close());

async function deliveries(count: number): Promise<Delivery[]> {
  const got: Delivery[] = [];
  for await (const batch of consumer.deliveries) {
    got.push(...batch);
    if (got.length >= count) break;
  }
  return got;
}

function collect() {
  const answers: ConsumeResponse["response"][] = [];
  const failures: unknown[] = [];
  const settles = createStreamSettles(
    consumer,
    (answer) => answers.push(answer),
    (error) => failures.push(error),
  );
  return { answers, failures, settles };
}

const ack = (ids: string[], requestId: bigint) => ({ kind: "ack" as const, ids, options: {}, requestId });

describe("a Consume stream's settles", () => {
  it("stream settles - acks queued behind one in flight go to the store together, each answered on its own", async () => {
    const got = await deliveries(20);
    const { answers, failures, settles } = collect();
    got.forEach((d, i) => {
      settles.push(ack([d.deliveryId], BigInt(i + 1)));
    });
    await settles.drained();
    expect(failures).toEqual([]);
    expect(settleCalls.length).toBeLessThan(20);
    expect(settleCalls.reduce((a, b) => a + b, 0)).toBe(20);
    expect(
      answers.map((a) => (a.case === "settled" ? [a.value.requestId, a.value.failures.length] : [])),
    ).toEqual(got.map((_, i) => [BigInt(i + 1), 0]));
    expect((await broker.subscriptionStats("billing")).inFlight).toBe(0n);
  });

  it("stream settles - apply in order: a nack after an ack of the same delivery fails, and only its answer says so", async () => {
    const [d1, d2] = await deliveries(2);
    const { answers, settles } = collect();
    settles.push(ack([d1?.deliveryId as string], 1n));
    settles.push({ kind: "nack", ids: [d1?.deliveryId as string], options: {}, requestId: 2n });
    settles.push(ack([d2?.deliveryId as string], 0n)); // no answer wanted
    await settles.drained();
    const settled = answers.flatMap((a) => (a.case === "settled" ? [a.value] : []));
    expect(settled.map((s) => [s.requestId, s.failures.map((f) => f.code)])).toEqual([
      [1n, []],
      [2n, ["failed_precondition"]],
    ]);
  });

  it("stream settles - a settle the broker refuses as a whole (no ids) fails the stream and drops what queued", async () => {
    const [d1] = await deliveries(1);
    const { failures, settles } = collect();
    settles.push(ack([], 1n));
    settles.push(ack([d1?.deliveryId as string], 2n));
    await settles.drained();
    expect(failures).toHaveLength(1);
    expect((await broker.subscriptionStats("billing")).inFlight).toBeGreaterThan(0n);
  });
});
