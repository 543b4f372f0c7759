import { create } from "@bufbuild/protobuf";
import { TopicSchema } from "@cebus/proto";
import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { createRawClients, testEvent } from "./clients.js";
import { startBroker, startNats, startPostgres, startRedis } from "./index.js";

/** A shared backend server the test can take away and bring back on the same data. */
interface Backend extends AsyncDisposable {
  store: string;
  crash(): Promise<void>;
  restart(): Promise<void>;
}

const backends: { name: string; start(): Promise<Backend> }[] = [
  {
    name: "Redis (real redis-server, kill -9)",
    async start() {
      const redis = await startRedis({ appendfsync: "always" });
      return {
        store: `${redis.url}/0`,
        crash: () => redis.kill("SIGKILL"),
        restart: () => redis.restart(),
        [Symbol.asyncDispose]: () => redis[Symbol.asyncDispose](),
      };
    },
  },
  {
    name: "NATS (real nats-server -js, kill -9)",
    async start() {
      const nats = await startNats();
      return {
        store: nats.url,
        crash: () => nats.kill("SIGKILL"),
        restart: () => nats.restart(),
        [Symbol.asyncDispose]: () => nats[Symbol.asyncDispose](),
      };
    },
  },
  {
    name: "PostgreSQL (real cluster, immediate stop)",
    async start() {
      const pg = await startPostgres();
      return {
        store: pg.url,
        crash: () => pg.crash(),
        restart: () => pg.restart(),
        [Symbol.asyncDispose]: () => pg[Symbol.asyncDispose](),
      };
    },
  },
];

const readyz = (url: string) => fetch(`${url}/readyz`).then((r) => r.status);
async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe.each(backends)("a broker on $name while the backend is away", ({ start }) => {
  it("reports not ready, fails publishes with unavailable, and recovers by itself with nothing lost", async () => {
    await using backend = await start();
    await using broker = await startBroker({ store: backend.store });
    const clients = createRawClients(broker.url);
    const publish = (id: string) => clients.publisher.publish({ topic: "outage", events: [testEvent(id)] });
    await clients.admin.createTopic({ topic: create(TopicSchema, { name: "outage" }) });
    await publish("before");
    expect(await readyz(broker.url)).toBe(200);

    await backend.crash();
    const failed = await publish("during").catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(ConnectError);
    expect((failed as ConnectError).code).toBe(Code.Unavailable);
    await until(async () => (await readyz(broker.url)) === 503, "/readyz to say 503");

    await backend.restart();
    await until(
      () =>
        publish("after").then(
          () => true,
          () => false,
        ),
      "a publish to succeed again",
    );
    await until(async () => (await readyz(broker.url)) === 200, "/readyz to say 200 again");
    const { records } = await clients.subscriber.readTopic({
      topic: "outage",
      partition: 0,
      fromOffset: 0n,
      limit: 10,
    });
    expect(records.map((r) => r.event?.id)).toEqual(["before", "after"]);
  }, 60_000);
});
