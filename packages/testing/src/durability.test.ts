import { create } from "@bufbuild/protobuf";
import { SubscriptionSchema, TopicSchema } from "@cebus/proto";
import { describe, expect, it } from "vitest";
import { consumeAndAck, createRawClients, testEvent } from "./clients.js";
import { startBroker } from "./index.js";

const earliest = { position: { case: "earliest" as const, value: {} } };

describe("durability of the embedded store (a real broker process, kill -9)", () => {
  it("keeps all 1,000 acknowledged publishes and never redelivers an acked event after kill -9 and restart", async () => {
    await using broker = await startBroker({ store: "sqlite" });
    let clients = createRawClients(broker.url);
    await clients.admin.createTopic({ topic: create(TopicSchema, { name: "durable", partitions: 4 }) });
    await clients.admin.createSubscription({
      subscription: create(SubscriptionSchema, { name: "reader", topic: "durable", startPosition: earliest }),
    });
    const ids = Array.from({ length: 1000 }, (_, i) => `evt-${i}`);
    for (let i = 0; i < ids.length; i += 100) {
      const { results } = await clients.publisher.publish({
        topic: "durable",
        events: ids.slice(i, i + 100).map((id) => testEvent(id)),
      });
      expect(results).toHaveLength(100);
    }
    const consumed = await consumeAndAck(clients, "reader", { count: 1000 });
    expect(new Set(consumed.map((d) => d.event?.id)).size).toBe(1000);

    await broker.kill("SIGKILL");
    await broker.restart();
    clients = createRawClients(broker.url);

    const stats = await clients.admin.getTopicStats({ name: "durable" });
    expect(stats.stats?.eventCount).toBe(1000n);
    expect(await consumeAndAck(clients, "reader", { count: 1, idleMs: 1500 })).toEqual([]);
    await clients.admin.createSubscription({
      subscription: create(SubscriptionSchema, { name: "replay", topic: "durable", startPosition: earliest }),
    });
    const replayed = await consumeAndAck(clients, "replay", { count: 1000 });
    expect(replayed.map((d) => d.event?.id).sort()).toEqual([...ids].sort());
  });

  it("loses no publish that returned OK when the broker is killed in the middle of publishing", async () => {
    await using broker = await startBroker({ store: "sqlite" });
    let clients = createRawClients(broker.url);
    await clients.admin.createTopic({ topic: create(TopicSchema, { name: "busy" }) });
    const acknowledged: string[] = [];
    let stop = false;
    const publishing = (async () => {
      for (let batch = 0; !stop; batch++) {
        const events = Array.from({ length: 50 }, (_, i) => testEvent(`b${batch}-${i}`));
        try {
          await clients.publisher.publish({ topic: "busy", events });
          acknowledged.push(...events.map((e) => e.id));
        } catch {
          return; // the broker is gone: this batch was not acknowledged
        }
      }
    })();
    while (acknowledged.length < 500) await new Promise((resolve) => setTimeout(resolve, 10));
    await broker.kill("SIGKILL");
    stop = true;
    await publishing;

    await broker.restart();
    clients = createRawClients(broker.url);
    await clients.admin.createSubscription({
      subscription: create(SubscriptionSchema, { name: "check", topic: "busy", startPosition: earliest }),
    });
    const stored = new Set(
      (await consumeAndAck(clients, "check", { count: acknowledged.length })).map((d) => d.event?.id),
    );
    const lost = acknowledged.filter((id) => !stored.has(id));
    expect(lost).toEqual([]);
  });
});
