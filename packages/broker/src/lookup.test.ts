import { create } from "@bufbuild/protobuf";
import { CebusError } from "@cebus/core";
import { TopicSchema } from "@cebus/proto";
import { createMemoryStore } from "@cebus/store/memory";
import { afterEach, describe, expect, it } from "vitest";
import { type Broker, createBroker } from "./broker.js";
import { event, rejected } from "./test-support.js";

/** Two broker processes over one store, on a clock the test moves. */
function twoBrokers() {
  const store = createMemoryStore();
  const clock = { now: 1_000_000 };
  const open = () =>
    createBroker({ store, pollIntervalMs: 20, retentionIntervalMs: 0, now: () => clock.now });
  return { store, clock, a: open(), b: open() };
}

const topic = (maxEventBytes: number) =>
  create(TopicSchema, { name: "orders", partitions: 1, maxEventBytes: BigInt(maxEventBytes) });
let bigCount = 0;
const big = () => event(`big-${bigCount++}`, { data: { case: "textData", value: "x".repeat(2000) } });

let brokers: Broker[] = [];
afterEach(async () => {
  await Promise.all(brokers.map((b) => b.close()));
  brokers = [];
});

describe("the topic a publish reads", () => {
  it("a topic another process deleted refuses publishes at once with not_found, and stores nothing", async () => {
    const { store, a, b } = twoBrokers();
    brokers = [a, b];
    await a.createTopic(topic(4096));
    await b.publish("orders", [event("1")]); // b now holds the topic
    await a.deleteTopic("orders");
    const error = await rejected(b.publish("orders", [event("2")]));
    expect(error).toBeInstanceOf(CebusError);
    expect(error.code).toBe("not_found");
    expect(await store.getTopic("orders")).toBeUndefined();
  });

  it("a topic this process re-created is used with its new settings by the next publish", async () => {
    const { a } = twoBrokers();
    brokers = [a];
    await a.createTopic(topic(4096));
    await a.publish("orders", [big()]);
    await a.deleteTopic("orders");
    await a.createTopic(topic(1024));
    const error = await rejected(a.publish("orders", [big()]));
    expect(error.code).toBe("invalid_argument");
    expect(error.message).toContain("accepts at most 1024");
  });

  it("a topic another process re-created is seen with its new settings within a second", async () => {
    const { clock, a, b } = twoBrokers();
    brokers = [a, b];
    await a.createTopic(topic(4096));
    await b.publish("orders", [big()]);
    await a.deleteTopic("orders");
    await a.createTopic(topic(1024));
    clock.now += 1000;
    const error = await rejected(b.publish("orders", [big()]));
    expect(error.message).toContain("accepts at most 1024");
  });

  it("a publish to a topic not created yet fails, and succeeds once it is created", async () => {
    const { a, b } = twoBrokers();
    brokers = [a, b];
    expect((await rejected(b.publish("orders", [event("1")]))).code).toBe("not_found");
    await a.createTopic(topic(4096));
    const [result] = await b.publish("orders", [event("1")]);
    expect(result?.offset).toBe(0n);
  });
});
