import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { CebusError } from "@cebus/core";
import { SubscriptionSchema, TopicSchema } from "@cebus/proto";
import { describe, expect, it } from "vitest";
import { consumeAndAck, createRawClients, testEvent } from "./clients.js";
import { startTestBroker } from "./test-broker.js";

/** Whether something accepts TCP connections on 127.0.0.1:port. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/** Creates a topic and a subscription from the start, publishes `ids`, and returns the ids the subscription gets. */
async function roundTrip(url: string, ids: string[]): Promise<string[]> {
  const clients = createRawClients(url);
  await clients.admin.createTopic({ topic: create(TopicSchema, { name: "orders", partitions: 1 }) });
  const earliest = { position: { case: "earliest" as const, value: {} } };
  await clients.admin.createSubscription({
    subscription: create(SubscriptionSchema, { name: "billing", topic: "orders", startPosition: earliest }),
  });
  await clients.publisher.publish({ topic: "orders", events: ids.map((id) => testEvent(id)) });
  const got = await consumeAndAck(clients, "billing", { count: ids.length });
  return got.map((delivery) => delivery.event?.id ?? "");
}

describe("startTestBroker", () => {
  it("serves publish and consume on a free loopback port, and await using stops it", async () => {
    let port = 0;
    {
      await using broker = await startTestBroker();
      port = broker.port;
      expect(broker.url).toBe(`http://127.0.0.1:${port}`);
      expect(broker.dataDir).toBeUndefined();
      expect(await roundTrip(broker.url, ["a", "b", "c"])).toEqual(["a", "b", "c"]);
      expect(await accepts(port)).toBe(true);
    }
    expect(port).toBeGreaterThan(0);
    expect(await accepts(port)).toBe(false);
  });

  it("gives each broker its own memory store", async () => {
    await using first = await startTestBroker();
    await using second = await startTestBroker();
    expect(first.port).not.toBe(second.port);
    await createRawClients(first.url).admin.createTopic({
      topic: create(TopicSchema, { name: "only-here" }),
    });
    const topics = await createRawClients(second.url).admin.listTopics({});
    expect(topics.topics.map((topic) => topic.name)).not.toContain("only-here");
  });

  it("keeps a sqlite:DIR store across brokers, and removes the temp dir of store sqlite on close", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cebus-test-broker-kept-"));
    try {
      const first = await startTestBroker({ store: `sqlite:${dir}` });
      await createRawClients(first.url).admin.createTopic({
        topic: create(TopicSchema, { name: "kept", partitions: 2 }),
      });
      await first.close();
      await first.close(); // idempotent
      await using second = await startTestBroker({ store: `sqlite:${dir}` });
      const topic = await createRawClients(second.url).admin.getTopic({ name: "kept" });
      expect(topic.topic?.partitions).toBe(2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const temp = await startTestBroker({ store: "sqlite" });
    const tempDir = temp.dataDir as string;
    expect(existsSync(join(tempDir, "cebus.db"))).toBe(true);
    await temp.close();
    expect(existsSync(tempDir)).toBe(false);
  });

  it("refuses an unknown store with a CebusError that lists the accepted ones", async () => {
    const failure = await startTestBroker({ store: "redis://127.0.0.1:6379" as "memory" }).catch((e) => e);
    expect(failure).toBeInstanceOf(CebusError);
    expect(failure.code).toBe("invalid_argument");
    expect(failure.message).toContain(`"memory", "sqlite" (a temp dir) or "sqlite:DIR"`);
  });
});
