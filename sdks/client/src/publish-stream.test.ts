import { createServer, type Http2Server } from "node:http2";
import type { AddressInfo } from "node:net";
import { create } from "@bufbuild/protobuf";
import { CebusError } from "@cebus/core";
import {
  CloudEventSchema,
  PublisherService,
  type PublishStreamRequest,
  PublishStreamResponseSchema,
} from "@cebus/proto";
import { Code, ConnectError, createClient, type ServiceImpl } from "@connectrpc/connect";
import { connectNodeAdapter, createConnectTransport } from "@connectrpc/connect-node";
import { afterEach, describe, expect, it } from "vitest";
import { createStreamPublisher, type StreamPublisher } from "./publish-stream.js";

// The stream's edge cases that a real broker does not produce on demand: a broker without PublishStream, a stream
// that breaks with answers outstanding. The real broker's PublishStream is covered by client.test.ts and the
// conformance suite (every Node publish travels on it).

let server: Http2Server | undefined;
let publisher: StreamPublisher | undefined;
afterEach(async () => {
  await publisher?.close();
  server?.close();
  server = publisher = undefined;
});

const results = (events: unknown[]) =>
  events.map((_, i) => ({ partition: 0, offset: BigInt(i), duplicate: false }));

async function serve(impl: Partial<ServiceImpl<typeof PublisherService>>) {
  const unary = { calls: 0 };
  const full = {
    publish: async (request: { events: unknown[] }) => {
      unary.calls++;
      return { results: results(request.events) };
    },
    ...impl,
  };
  server = createServer(connectNodeAdapter({ routes: (r) => r.service(PublisherService, full) }));
  await new Promise<void>((resolve) => server?.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const transport = createConnectTransport({ baseUrl: url, httpVersion: "2", useBinaryFormat: true });
  const client = createClient(PublisherService, transport);
  const fallback = async (topic: string, events: (typeof event)[]) => {
    const response = await client.publish({ topic, events });
    return response.results.map((r) => ({
      partition: r.partition,
      offset: Number(r.offset),
      duplicate: false,
    }));
  };
  publisher = createStreamPublisher(client, url, fallback);
  return { publisher, unary };
}

const event = create(CloudEventSchema, { id: "a", source: "/s", specVersion: "1.0", type: "t" });

describe("the publish stream", () => {
  it("falls back to the unary Publish for good when the broker has no PublishStream", async () => {
    const { publisher, unary } = await serve({});
    await expect(publisher.send("t", [event, event])).resolves.toHaveLength(2);
    await expect(publisher.send("t", [event])).resolves.toHaveLength(1);
    expect(unary.calls).toBe(2);
  });

  it("fails the batches in flight with unavailable when the stream breaks, and opens a new one for the next", async () => {
    let streams = 0;
    const { publisher } = await serve({
      async *publishStream(requests: AsyncIterable<PublishStreamRequest>) {
        streams++;
        for await (const request of requests) {
          if (streams === 1) throw new ConnectError("connection reset", Code.Unavailable);
          yield create(PublishStreamResponseSchema, {
            requestId: request.requestId,
            results: results(request.events),
          });
        }
      },
    });
    const lost = await publisher.send("t", [event]).catch((e: unknown) => e);
    expect(lost).toBeInstanceOf(CebusError);
    expect((lost as CebusError).code).toBe("unavailable");
    expect((lost as CebusError).message).toContain("publish it again with the same event ids");
    await expect(publisher.send("t", [event])).resolves.toHaveLength(1);
    expect(streams).toBe(2);
  });

  it("turns a batch's failure into a CebusError with its code, field and retry hint", async () => {
    const { publisher } = await serve({
      async *publishStream(requests: AsyncIterable<PublishStreamRequest>) {
        for await (const request of requests) {
          yield create(PublishStreamResponseSchema, {
            requestId: request.requestId,
            failure: { code: "resource_exhausted", message: "slow down", field: "topic", retryAfterMs: 40 },
          });
        }
      },
    });
    const error = (await publisher.send("t", [event]).catch((e: unknown) => e)) as CebusError;
    expect(error).toMatchObject({ code: "resource_exhausted", field: "topic", retryAfterMs: 40 });
    expect(error.message).toBe("slow down");
  });

  it("close waits for the answers in flight", async () => {
    const { publisher } = await serve({
      async *publishStream(requests: AsyncIterable<PublishStreamRequest>) {
        for await (const request of requests) {
          await new Promise((resolve) => setTimeout(resolve, 50));
          yield create(PublishStreamResponseSchema, {
            requestId: request.requestId,
            results: results(request.events),
          });
        }
      },
    });
    const pending = publisher.send("t", [event]);
    await publisher.close();
    await expect(pending).resolves.toHaveLength(1);
  });
});
