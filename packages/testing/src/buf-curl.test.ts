import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { startBroker } from "./index.js";

const run = promisify(execFile);
const buf = fileURLToPath(new URL("../../../node_modules/.bin/buf", import.meta.url));

/** Calls a method with the real `buf curl`, discovering the schema through server reflection. */
async function bufCurl(url: string, method: string, body: object, protocol: "grpc" | "connect" = "grpc") {
  const args = ["curl", "--protocol", protocol, "-d", JSON.stringify(body), `${url}/${method}`];
  if (protocol === "grpc") args.splice(3, 0, "--http2-prior-knowledge");
  const { stdout } = await run(buf, args, { timeout: 20_000 });
  return JSON.parse(stdout || "{}");
}

describe("generic tools against a running broker (buf curl over reflection)", () => {
  it("buf curl creates a topic and publishes a CloudEvent, and the health check says SERVING", async () => {
    await using broker = await startBroker({ store: "memory" });
    await bufCurl(broker.url, "cebus.v1.AdminService/CreateTopic", { topic: { name: "curl" } });
    const published = await bufCurl(broker.url, "cebus.v1.PublisherService/Publish", {
      topic: "curl",
      events: [{ id: "1", source: "/curl", specVersion: "1.0", type: "curl.test", textData: "hello" }],
    });
    expect(published).toEqual({ results: [{}] }); // partition 0, offset 0, not a duplicate: all defaults
    const again = await bufCurl(
      broker.url,
      "cebus.v1.PublisherService/Publish",
      { topic: "curl", events: [{ id: "2", source: "/curl", specVersion: "1.0", type: "curl.test" }] },
      "connect",
    );
    expect(again).toEqual({ results: [{ offset: "1" }] });
    expect(await bufCurl(broker.url, "grpc.health.v1.Health/Check", {})).toEqual({ status: "SERVING" });
  });

  it("buf curl gets a clear INVALID_ARGUMENT for an event without a source", async () => {
    await using broker = await startBroker({ store: "memory" });
    await bufCurl(broker.url, "cebus.v1.AdminService/CreateTopic", { topic: { name: "curl" } });
    const call = bufCurl(broker.url, "cebus.v1.PublisherService/Publish", {
      topic: "curl",
      events: [{ id: "1", specVersion: "1.0", type: "t" }],
    });
    await expect(call).rejects.toThrow(/invalid_argument[\s\S]*events\[0\]\.source is missing/);
  });
});
