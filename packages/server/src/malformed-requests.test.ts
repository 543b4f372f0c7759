import { connect as connectHttp2 } from "node:http2";
import { create, toBinary } from "@bufbuild/protobuf";
import { type Broker, createBroker } from "@cebus/broker";
import {
  CloudEventSchema,
  ConsumeRequestSchema,
  PublishRequestSchema,
  SubscriptionSchema,
  TopicSchema,
} from "@cebus/proto";
import { createSqliteStore } from "@cebus/store-sqlite";
import { afterEach, describe, expect, it } from "vitest";
import { type CebusServer, startServer } from "./server.js";

let server: CebusServer | undefined;
let broker: Broker | undefined;
afterEach(async () => {
  await server?.close();
  await broker?.close();
  server = undefined;
  broker = undefined;
});

async function serve(wrap: (broker: Broker) => Broker = (b) => b): Promise<string> {
  broker = createBroker({ store: createSqliteStore({ path: ":memory:" }), retentionIntervalMs: 0 });
  server = await startServer({ broker: wrap(broker), port: 0 });
  return server.url;
}

/** A valid PublishRequest, cut short in the middle of its event: "premature EOF" for the parser. */
function truncatedPublish(): Uint8Array<ArrayBuffer> {
  const event = create(CloudEventSchema, { id: "e1", source: "/t", specVersion: "1.0", type: "t" });
  const bytes = toBinary(
    PublishRequestSchema,
    create(PublishRequestSchema, { topic: "orders", events: [event] }),
  );
  return bytes.slice(0, bytes.length - 3);
}

function envelope(data: Uint8Array, flags = 0): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(5 + data.length);
  out[0] = flags;
  new DataView(out.buffer).setUint32(1, data.length);
  out.set(data, 5);
  return out;
}

/** One gRPC call over h2c: the status and message of its trailers. */
async function grpcCall(
  url: string,
  path: string,
  body: Uint8Array,
): Promise<{ status: string; message: string }> {
  const session = connectHttp2(url);
  try {
    return await new Promise((resolve, reject) => {
      const stream = session.request({
        ":method": "POST",
        ":path": path,
        "content-type": "application/grpc",
        te: "trailers",
      });
      stream.on("error", reject);
      stream.resume();
      let headers: Record<string, unknown> = {};
      stream.on("response", (h) => {
        headers = h;
      });
      stream.on("trailers", (t) => {
        headers = { ...headers, ...t };
      });
      stream.on("end", () =>
        resolve({
          status: String(headers["grpc-status"]),
          message: decodeURIComponent(String(headers["grpc-message"] ?? "")),
        }),
      );
      stream.end(body);
    });
  } finally {
    session.close();
  }
}

/** The status and message in a gRPC-Web response's trailer frame (the last frame, flag 0x80). */
function grpcWebTrailer(body: Uint8Array): { status: string; message: string } {
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  let at = 0;
  let text = "";
  while (at + 5 <= body.length) {
    const length = view.getUint32(at + 1);
    if (((body[at] ?? 0) & 0x80) === 0x80)
      text = new TextDecoder().decode(body.subarray(at + 5, at + 5 + length));
    at += 5 + length;
  }
  const field = (name: string) => text.match(new RegExp(`^${name}: ?(.*)$`, "mi"))?.[1]?.trim() ?? "";
  return { status: field("grpc-status"), message: decodeURIComponent(field("grpc-message")) };
}

describe("malformed requests are the caller's fault", () => {
  it("a truncated Protobuf body to Publish over Connect binary answers invalid_argument naming cebus.v1.PublishRequest", async () => {
    const url = await serve();
    const response = await fetch(`${url}/cebus.v1.PublisherService/Publish`, {
      method: "POST",
      headers: { "content-type": "application/proto", "connect-protocol-version": "1" },
      body: truncatedPublish(),
    });
    expect(response.status).toBe(400);
    const error = (await response.json()) as { code: string; message: string };
    expect(error.code).toBe("invalid_argument");
    expect(error.message).toContain("is not a valid cebus.v1.PublishRequest");
    expect(error.message).toContain("premature EOF");
  });

  it("the same body over gRPC and gRPC-Web answers invalid_argument (status 3) naming the message type", async () => {
    const url = await serve();
    const grpc = await grpcCall(url, "/cebus.v1.PublisherService/Publish", envelope(truncatedPublish()));
    expect(grpc.status).toBe("3");
    expect(grpc.message).toContain("is not a valid cebus.v1.PublishRequest");
    const response = await fetch(`${url}/cebus.v1.PublisherService/Publish`, {
      method: "POST",
      headers: { "content-type": "application/grpc-web+proto", "x-grpc-web": "1" },
      body: envelope(truncatedPublish()),
    });
    const web = grpcWebTrailer(new Uint8Array(await response.arrayBuffer()));
    expect(web.status).toBe("3");
    expect(web.message).toContain("is not a valid cebus.v1.PublishRequest");
  });

  it("a malformed message in the server stream Receive answers invalid_argument naming cebus.v1.ReceiveRequest", async () => {
    const url = await serve();
    const response = await fetch(`${url}/cebus.v1.SubscriberService/Receive`, {
      method: "POST",
      headers: { "content-type": "application/connect+proto", "connect-protocol-version": "1" },
      body: envelope(new Uint8Array([0x0a, 0x7f, 0x01])),
    });
    expect(response.status).toBe(200);
    const body = new Uint8Array(await response.arrayBuffer());
    expect(body[0]).toBe(0x02); // the end-stream frame, and nothing before it
    const end = JSON.parse(new TextDecoder().decode(body.subarray(5))) as {
      error: { code: string; message: string };
    };
    expect(end.error.code).toBe("invalid_argument");
    expect(end.error.message).toContain("is not a valid cebus.v1.ReceiveRequest");
  });

  it("a malformed message after a valid start in the bidi stream Consume answers invalid_argument naming cebus.v1.ConsumeRequest", async () => {
    const url = await serve();
    await broker?.createTopic(create(TopicSchema, { name: "orders", partitions: 1 }));
    await broker?.createSubscription(create(SubscriptionSchema, { name: "billing", topic: "orders" }));
    const start = toBinary(
      ConsumeRequestSchema,
      create(ConsumeRequestSchema, { request: { case: "start", value: { subscription: "billing" } } }),
    );
    const body = new Uint8Array([...envelope(start), ...envelope(new Uint8Array([0xff, 0xff, 0xff]))]);
    const grpc = await grpcCall(url, "/cebus.v1.SubscriberService/Consume", body);
    expect(grpc.status).toBe("3");
    expect(grpc.message).toContain("is not a valid cebus.v1.ConsumeRequest");
  });

  it("a message flagged compressed in a call that names no encoding answers invalid_argument", async () => {
    const url = await serve();
    const grpc = await grpcCall(url, "/cebus.v1.AdminService/ListTopics", envelope(new Uint8Array(0), 0x01));
    expect(grpc.status).toBe("3");
    expect(grpc.message).toContain("flagged compressed");
  });

  it("a gRPC Publish whose body ends in a frame header promising more bytes answers invalid_argument and publishes nothing", async () => {
    const url = await serve();
    await broker?.createTopic(create(TopicSchema, { name: "orders", partitions: 1 }));
    const valid = toBinary(
      PublishRequestSchema,
      create(PublishRequestSchema, {
        topic: "orders",
        events: [create(CloudEventSchema, { id: "e1", source: "/t", specVersion: "1.0", type: "t" })],
      }),
    );
    const dangling = new Uint8Array([0, 0, 0, 0, 9]); // a header promising 9 bytes, then the body ends
    const grpc = await grpcCall(
      url,
      "/cebus.v1.PublisherService/Publish",
      new Uint8Array([...envelope(valid), ...dangling]),
    );
    expect(grpc.status).toBe("3");
    expect(grpc.message).toContain("ends inside a message frame");
    expect((await broker?.topicStats("orders"))?.eventCount).toBe(0n);
  });

  it("a failure inside the broker on a valid request still answers internal", async () => {
    const url = await serve(
      (real) =>
        new Proxy(real, {
          get: (target, key, receiver) =>
            key === "listTopics"
              ? () => Promise.reject(new Error("parse binary: a bug, not the caller's bytes"))
              : Reflect.get(target, key, receiver),
        }),
    );
    const response = await fetch(`${url}/cebus.v1.AdminService/ListTopics`, {
      method: "POST",
      headers: { "content-type": "application/proto", "connect-protocol-version": "1" },
      body: new Uint8Array(0),
    });
    expect(response.status).toBe(500);
    expect(((await response.json()) as { code: string }).code).toBe("internal");
  });
});
