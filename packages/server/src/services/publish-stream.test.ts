import { create } from "@bufbuild/protobuf";
import { type Broker, createBroker } from "@cebus/broker";
import { CebusError, createAsyncQueue } from "@cebus/core";
import {
  CloudEventSchema,
  PublisherService,
  type PublishStreamRequest,
  PublishStreamRequestSchema,
  type PublishStreamResponse,
  TopicSchema,
} from "@cebus/proto";
import { createSqliteStore } from "@cebus/store-sqlite";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type CebusServer, startServer } from "../server.js";
import { maxInFlightPerStream } from "./publish-stream.js";

let broker: Broker;
let server: CebusServer;
let publisher: ReturnType<typeof createClient<typeof PublisherService>>;

beforeEach(async () => {
  broker = createBroker({ store: createSqliteStore({ path: ":memory:" }), retentionIntervalMs: 0 });
  await broker.createTopic(create(TopicSchema, { name: "orders", partitions: 2 }));
  server = await startServer({ broker, port: 0 });
  const transport = createConnectTransport({ baseUrl: server.url, httpVersion: "2", useBinaryFormat: true });
  publisher = createClient(PublisherService, transport);
});
afterEach(async () => {
  await server.close();
  await broker.close();
});

const event = (id: string, type = "t") =>
  create(CloudEventSchema, { id, source: "/s", specVersion: "1.0", type });

const request = (requestId: number, topic: string, ids: string[], type?: string) =>
  create(PublishStreamRequestSchema, {
    requestId: BigInt(requestId),
    topic,
    events: ids.map((id) => event(id, type)),
  });

/** Sends `requests` on one stream, half-closes, and returns every answer by request id. */
async function exchange(requests: PublishStreamRequest[]): Promise<Map<bigint, PublishStreamResponse>> {
  const queue = createAsyncQueue<PublishStreamRequest>();
  for (const r of requests) queue.push(r);
  queue.end();
  const answers = new Map<bigint, PublishStreamResponse>();
  for await (const answer of publisher.publishStream(queue)) answers.set(answer.requestId, answer);
  return answers;
}

describe("PublishStream", () => {
  it("answers every batch once with its request id and stores it as a unary Publish would", async () => {
    const answers = await exchange([request(1, "orders", ["a", "b"]), request(2, "orders", ["c"])]);
    expect([...answers.keys()].sort()).toEqual([1n, 2n]);
    expect(answers.get(1n)?.results).toHaveLength(2);
    expect(answers.get(2n)?.results).toHaveLength(1);
    expect(answers.get(1n)?.failure).toBeUndefined();
    const stats = await broker.topicStats("orders");
    expect(stats.eventCount).toBe(3n);
  });

  it("answers a failed batch with its code, message and field, stores nothing of it, and goes on", async () => {
    const answers = await exchange([
      request(1, "orders", ["a"], ""),
      request(2, "missing", ["b"]),
      request(3, "orders", ["c"]),
    ]);
    expect(answers.get(1n)?.failure).toMatchObject({ code: "invalid_argument", field: "events[0].type" });
    expect(answers.get(1n)?.failure?.message).toContain("type");
    expect(answers.get(2n)?.failure).toMatchObject({ code: "not_found", field: "topic" });
    expect(answers.get(2n)?.failure?.message).toContain("create it first");
    expect(answers.get(3n)?.results).toHaveLength(1);
    const stats = await broker.topicStats("orders");
    expect(stats.eventCount).toBe(1n);
  });

  it("answers a retried batch (same ids) with the original offsets, marked duplicate", async () => {
    const first = await exchange([request(1, "orders", ["a", "b"])]);
    const again = await exchange([request(1, "orders", ["a", "b"])]);
    const offsets = (a: Map<bigint, PublishStreamResponse>) => a.get(1n)?.results.map((r) => r.offset);
    expect(offsets(again)).toEqual(offsets(first));
    expect(again.get(1n)?.results.every((r) => r.duplicate)).toBe(true);
  });

  it("keeps at most maxInFlightPerStream publishes of one stream running and still answers them all", async () => {
    let running = 0;
    let most = 0;
    const publish = broker.publish.bind(broker);
    broker.publish = async (topic, events) => {
      most = Math.max(most, ++running);
      await new Promise((resolve) => setTimeout(resolve, 1));
      try {
        return await publish(topic, events);
      } finally {
        running--;
      }
    };
    const n = maxInFlightPerStream * 3;
    const answers = await exchange(Array.from({ length: n }, (_, i) => request(i + 1, "orders", [`e${i}`])));
    expect(answers.size).toBe(n);
    expect(most).toBeLessThanOrEqual(maxInFlightPerStream);
    expect(most).toBeGreaterThan(1);
  });

  it("turns an unexpected error into an internal failure without the details", async () => {
    broker.publish = () => Promise.reject(new Error("disk on fire"));
    const answers = await exchange([request(1, "orders", ["a"])]);
    expect(answers.get(1n)?.failure).toMatchObject({ code: "internal" });
    expect(answers.get(1n)?.failure?.message).not.toContain("fire");
  });

  it("carries a retry hint", async () => {
    broker.publish = () =>
      Promise.reject(new CebusError("resource_exhausted", "slow down", { retryAfterMs: 250 }));
    const answers = await exchange([request(1, "orders", ["a"])]);
    expect(answers.get(1n)?.failure).toMatchObject({ code: "resource_exhausted", retryAfterMs: 250 });
  });
});
