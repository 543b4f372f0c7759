import { create } from "@bufbuild/protobuf";
import { msToDuration } from "@cebus/core";
import { SubscriptionSchema, TopicSchema } from "@cebus/proto";
import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { createRawClients, testEvent } from "./clients.js";
import { startBroker } from "./index.js";

const earliest = { position: { case: "earliest" as const, value: {} } };

describe("EndReceive: the clean close of a Receive server stream (a real broker process)", () => {
  it("releases the deliveries still in flight to a client that stopped reading, for another consumer at once", async () => {
    await using broker = await startBroker({ store: "sqlite" });
    const { admin, publisher, subscriber } = createRawClients(broker.url);
    await admin.createTopic({ topic: create(TopicSchema, { name: "page" }) });
    await admin.createSubscription({
      // An ack deadline far past the test timeout: only a release can bring the events back in time.
      subscription: create(SubscriptionSchema, {
        name: "page-sub",
        topic: "page",
        startPosition: earliest,
        ackDeadline: msToDuration(600_000),
      }),
    });
    await publisher.publish({ topic: "page", events: ["a", "b", "c"].map((id) => testEvent(id)) });

    const abort = new AbortController();
    const stream = subscriber.receive({ subscription: "page-sub" }, { signal: abort.signal });
    const iterator = stream[Symbol.asyncIterator]();
    const first = await iterator.next(); // the consumer id; the deliveries that follow are never read
    const consumerId = first.done ? "" : first.value.consumerId;
    expect(consumerId).not.toBe("");
    while ((await admin.getSubscriptionStats({ name: "page-sub" })).stats?.inFlight !== 3n) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }

    expect(await subscriber.endReceive({ subscription: "page-sub", consumerId })).toMatchObject({
      released: 3,
    });
    abort.abort();

    const next = subscriber.receive({ subscription: "page-sub" });
    const got: string[] = [];
    for await (const response of next) {
      for (const d of response.deliveries) {
        got.push(`${d.event?.id}#${d.attempt}`);
        await subscriber.ack({ subscription: "page-sub", deliveryIds: [d.deliveryId] });
      }
      if (got.length === 3) break;
    }
    expect(got.sort()).toEqual(["a#2", "b#2", "c#2"]);
  });

  it("an unknown consumer id is NOT_FOUND with a message naming the subscription, and releases nothing", async () => {
    await using broker = await startBroker({ store: "sqlite" });
    const { admin, publisher, subscriber } = createRawClients(broker.url);
    await admin.createTopic({ topic: create(TopicSchema, { name: "page" }) });
    await admin.createSubscription({
      subscription: create(SubscriptionSchema, { name: "page-sub", topic: "page", startPosition: earliest }),
    });
    await publisher.publish({ topic: "page", events: [testEvent("a")] });
    const stream = subscriber.receive({ subscription: "page-sub" })[Symbol.asyncIterator]();
    let held = 0;
    while (held === 0) {
      const next = await stream.next();
      held = next.done ? -1 : next.value.deliveries.length;
    }
    expect(held).toBe(1);

    const error = await subscriber
      .endReceive({ subscription: "page-sub", consumerId: "not-a-consumer" })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConnectError);
    expect((error as ConnectError).code).toBe(Code.NotFound);
    expect((error as ConnectError).rawMessage).toContain("page-sub");
    expect((await admin.getSubscriptionStats({ name: "page-sub" })).stats?.inFlight).toBe(1n);
    await stream.return?.();
  });
});
