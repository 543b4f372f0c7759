import { create, fromBinary } from "@bufbuild/protobuf";
import { CloudEventSchema, TopicSchema } from "@cebus/proto";
import { describeStoreContract } from "@cebus/store/contract";
import pg from "pg";
import { describe, expect, it } from "vitest";
import { openPostgresStore } from "./connect.js";
import { enqueueInOutbox } from "./outbox.js";
import { useTestPostgres } from "./test-postgres.js";

const pgTest = useTestPostgres();

let counter = 0;
const urlOf = (name: string) => pgTest.server.url.replace(/\/postgres$/, `/${name}`);
let schema = "";
describeStoreContract(
  "postgres",
  {
    open: async () => {
      schema = `contract_${++counter}`;
      await pgTest.admin.query(`CREATE SCHEMA ${schema}`);
      return openPostgresStore(pgTest.inSchema(schema));
    },
    reopen: async () => openPostgresStore(pgTest.inSchema(schema)),
  },
  { model: { numRuns: 100 } },
);

describe("transactional outbox", () => {
  it("publishes an event committed with the application's own row exactly once, and a rolled-back one never", async () => {
    const name = `outbox_${process.pid}`;
    pgTest.server.sql(`CREATE DATABASE ${name}`);
    const store = await openPostgresStore(urlOf(name));
    await store.createTopic(create(TopicSchema, { name: "orders", partitions: 2 }));
    const app = new pg.Client({ connectionString: urlOf(name) });
    await app.connect();
    await app.query("CREATE TABLE orders (id text PRIMARY KEY)");
    const event = (id: string) =>
      create(CloudEventSchema, {
        id,
        source: "/shop",
        specVersion: "1.0",
        type: "order.placed",
        attributes: {},
      });
    await app.query("BEGIN");
    await app.query("INSERT INTO orders VALUES ('o1')");
    await enqueueInOutbox(app, "orders", [event("o1")]);
    await app.query("COMMIT");
    await app.query("BEGIN");
    await app.query("INSERT INTO orders VALUES ('o2')");
    await enqueueInOutbox(app, "orders", [event("o2")]);
    await app.query("ROLLBACK");
    await expect(enqueueInOutbox(app, "orders", [event("")])).rejects.toThrow(/id is missing/);
    const ids = async () => {
      const all = [...(await store.read("orders", 0, 0, 100)), ...(await store.read("orders", 1, 0, 100))];
      return all.map((e) => fromBinary(CloudEventSchema, e.data).id);
    };
    const deadline = Date.now() + 5000;
    while ((await ids()).length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 600)); // more relay rounds: still once
    expect(await ids()).toEqual(["o1"]);
    expect((await app.query("SELECT count(*)::int AS n FROM cebus_outbox")).rows[0].n).toBe(0);
    await app.end();
    await store.close();
  });
});

describe("postgres store connection", () => {
  it("fails with one line naming the URL and the cause when nothing listens there", async () => {
    await expect(
      openPostgresStore("postgres://u:pw@127.0.0.1:1/x", { connectTimeoutMs: 1000 }),
    ).rejects.toThrow(
      /^cannot use PostgreSQL at postgres:\/\/u:\*\*\*@127\.0\.0\.1:1\/x: .*is PostgreSQL running there\?$/,
    );
  });

  it("says a missing database must be created", async () => {
    await expect(openPostgresStore(urlOf("no_such_db"))).rejects.toThrow(/create the database first/);
  });
});
