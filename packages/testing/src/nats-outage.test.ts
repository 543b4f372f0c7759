import { create } from "@bufbuild/protobuf";
import { TopicSchema } from "@cebus/proto";
import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { createRawClients, testEvent } from "./clients.js";
import { startBroker, startNats } from "./index.js";

const readyz = (url: string) => fetch(`${url}/readyz`).then((r) => r.status);
async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe("a broker on NATS while NATS is away (real nats-server -js, kill -9)", () => {
  it("reports not ready, fails publishes with unavailable, and recovers by itself with nothing lost", async () => {
    await using nats = await startNats();
    await using broker = await startBroker({ store: nats.url });
    const clients = createRawClients(broker.url);
    await clients.admin.createTopic({ topic: create(TopicSchema, { name: "outage" }) });
    await clients.publisher.publish({ topic: "outage", events: [testEvent("before")] });
    expect(await readyz(broker.url)).toBe(200);

    await nats.kill("SIGKILL");
    await until(async () => (await readyz(broker.url)) === 503, "/readyz to say 503");
    const failed = await clients.publisher
      .publish({ topic: "outage", events: [testEvent("during")] })
      .catch((e) => e);
    expect(failed).toBeInstanceOf(ConnectError);
    expect((failed as ConnectError).code).toBe(Code.Unavailable);

    await nats.restart();
    await until(async () => (await readyz(broker.url)) === 200, "/readyz to say 200 again");
    await clients.publisher.publish({ topic: "outage", events: [testEvent("after")] });
    const { records } = await clients.subscriber.readTopic({
      topic: "outage",
      partition: 0,
      fromOffset: 0n,
      limit: 10,
    });
    expect(records.map((r) => r.event?.id)).toEqual(["before", "after"]);
  });
});
