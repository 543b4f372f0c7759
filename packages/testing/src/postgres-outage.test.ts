import { create } from "@bufbuild/protobuf";
import { TopicSchema } from "@cebus/proto";
import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { createRawClients, testEvent } from "./clients.js";
import { runCli, startBroker, startPostgres } from "./index.js";

const readyz = (url: string) => fetch(`${url}/readyz`).then((r) => r.status);
async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe("a broker on PostgreSQL (real cluster, immediate stop)", () => {
  it("reports not ready while the database is down, fails publishes with unavailable, recovers with nothing lost", async () => {
    await using pg = await startPostgres();
    await using broker = await startBroker({ store: pg.url });
    const clients = createRawClients(broker.url);
    await clients.admin.createTopic({ topic: create(TopicSchema, { name: "outage" }) });
    await clients.publisher.publish({ topic: "outage", events: [testEvent("before")] });
    expect(await readyz(broker.url)).toBe(200);

    await pg.crash();
    const failed = await clients.publisher
      .publish({ topic: "outage", events: [testEvent("during")] })
      .catch((e) => e);
    expect(failed).toBeInstanceOf(ConnectError);
    expect((failed as ConnectError).code).toBe(Code.Unavailable);
    await until(async () => (await readyz(broker.url)) === 503, "/readyz to say 503");

    await pg.restart();
    await until(async () => {
      const ok = await clients.publisher.publish({ topic: "outage", events: [testEvent("after")] }).then(
        () => true,
        () => false,
      );
      return ok;
    }, "a publish to succeed again");
    await until(async () => (await readyz(broker.url)) === 200, "/readyz to say 200 again");
    const { records } = await clients.subscriber.readTopic({
      topic: "outage",
      partition: 0,
      fromOffset: 0n,
      limit: 10,
    });
    expect(records.map((r) => r.event?.id)).toEqual(["before", "after"]);
  });

  it("refuses to start, in one line and with nothing created, for a user who may not create tables", async () => {
    await using pg = await startPostgres();
    pg.sql("CREATE DATABASE app");
    pg.sql("CREATE ROLE reader LOGIN");
    const url = pg.url.replace("postgres@", "reader@").replace(/\/postgres$/, "/app");
    const result = await runCli(["serve", "--port", "0", "--store", url], { timeoutMs: 20_000 });
    expect(result.code).toBe(2);
    expect(result.stderr.trim()).toMatch(
      /^error: cannot use PostgreSQL at postgres:\/\/reader@.*permission denied/,
    );
    expect(result.stderr.trim().split("\n")).toHaveLength(1);
    expect(pg.sql("SELECT count(*) FROM pg_tables WHERE tablename LIKE 'cebus%'").trim()).toBe("0");
  });
});
