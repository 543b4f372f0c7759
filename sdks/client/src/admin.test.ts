import { type BrokerProcess, startBroker } from "@cebus/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createClient, type Message } from "./index.node.js";

let broker: BrokerProcess;
beforeAll(async () => {
  broker = await startBroker({ store: "sqlite" });
});
afterAll(async () => {
  await broker[Symbol.asyncDispose]();
});

async function next(iterator: AsyncIterator<Message>): Promise<Message> {
  const { value, done } = await iterator.next();
  if (done) throw new Error("the subscription ended");
  return value;
}

describe("@cebus/client admin", () => {
  it("creates, reads, lists, measures and deletes topics and subscriptions", async () => {
    const cebus = createClient({ url: broker.url });
    const topic = await cebus.admin.createTopic("adm-orders", { partitions: 3, maxEventBytes: 4096 });
    expect(topic).toMatchObject({ name: "adm-orders", partitions: 3, maxEventBytes: 4096n });
    expect((await cebus.admin.getTopic("adm-orders")).partitions).toBe(3);
    await cebus.admin.createSubscription("adm-billing", { topic: "adm-orders", ordered: true });
    expect((await cebus.admin.getSubscription("adm-billing")).ordered).toBe(true);
    expect((await cebus.admin.listSubscriptions("adm-orders")).map((s) => s.name)).toEqual(["adm-billing"]);
    await cebus.publish("adm-orders", [
      { type: "t", source: "/s", data: "a" },
      { type: "t", source: "/s", data: "b" },
    ]);
    expect((await cebus.admin.topicStats("adm-orders")).eventCount).toBe(2n);
    expect((await cebus.admin.subscriptionStats("adm-billing")).backlog).toBe(2n);
    await cebus.admin.seek("adm-billing", "latest");
    expect((await cebus.admin.subscriptionStats("adm-billing")).backlog).toBe(0n);
    await expect(cebus.admin.deleteTopic("adm-orders")).rejects.toMatchObject({
      code: "failed_precondition",
    });
    await cebus.admin.deleteTopic("adm-orders", { force: true });
    expect((await cebus.admin.listTopics()).map((t) => t.name)).not.toContain("adm-orders");
    await expect(cebus.admin.getSubscription("adm-billing")).rejects.toMatchObject({ code: "not_found" });
    await cebus.close();
  });

  it("lists a subscription's dead letters with their reason and redrives the chosen ones to it", async () => {
    const cebus = createClient({ url: broker.url });
    await cebus.admin.createTopic("adm-jobs");
    await cebus.admin.createTopic("adm-jobs-dlq");
    await cebus.admin.createSubscription("adm-worker", {
      topic: "adm-jobs",
      deadLetterTopic: "adm-jobs-dlq",
      startAt: "earliest",
    });
    await cebus.publish("adm-jobs", [
      { id: "j1", type: "t", source: "/s" },
      { id: "j2", type: "t", source: "/s" },
    ]);
    const subscription = cebus.subscribe("adm-worker");
    const iterator = subscription[Symbol.asyncIterator]();
    for (let i = 0; i < 2; i++) await (await next(iterator)).term("cannot parse");
    const dead = await cebus.admin.listDeadLetters("adm-worker");
    expect(dead.map((d) => [d.event?.id, d.reason])).toEqual([
      ["j1", "cannot parse"],
      ["j2", "cannot parse"],
    ]);
    expect(await cebus.admin.redriveDeadLetters("adm-worker", { eventIds: ["j2"] })).toBe(1);
    const again = await next(iterator);
    expect([again.id, again.attempt]).toEqual(["j2", 1]);
    await again.ack();
    await subscription.close();
    await cebus.close();
  });
});
