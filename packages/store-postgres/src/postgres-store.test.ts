import { describeStoreContract } from "@cebus/store/contract";
import { type PostgresServer, startPostgres } from "@cebus/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openPostgresStore } from "./connect.js";

let server: PostgresServer;
beforeAll(async () => {
  server = await startPostgres();
}, 180_000);
afterAll(async () => {
  await server?.[Symbol.asyncDispose]();
});

let db = "";
let counter = 0;
const urlOf = (name: string) => server.url.replace(/\/postgres$/, `/${name}`);
describeStoreContract("postgres", {
  open: async () => {
    db = `contract_${process.pid}_${++counter}`;
    server.sql(`CREATE DATABASE ${db}`);
    return openPostgresStore(urlOf(db));
  },
  reopen: async () => openPostgresStore(urlOf(db)),
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
