import { type PostgresServer, startPostgres } from "@cebus/testing";
import pg from "pg";
import { afterAll, beforeAll } from "vitest";

/** The throwaway PostgreSQL of one test file (started before its tests, stopped after), with an admin client. */
export interface TestPostgres {
  readonly server: PostgresServer;
  readonly admin: pg.Client;
  /** The server's URL with `schema` as search path: a fresh store per schema, far cheaper than a database each. */
  inSchema(schema: string): string;
}

export function useTestPostgres(): TestPostgres {
  let server: PostgresServer | undefined;
  let admin: pg.Client | undefined;
  beforeAll(async () => {
    server = await startPostgres();
    admin = new pg.Client({ connectionString: server.url });
    await admin.connect();
  }, 180_000);
  afterAll(async () => {
    await admin?.end();
    await server?.[Symbol.asyncDispose]();
  });
  const started = <T>(value: T | undefined): T => {
    if (value === undefined)
      throw new Error("the test PostgreSQL is not started yet: use it inside tests or hooks");
    return value;
  };
  return {
    get server() {
      return started(server);
    },
    get admin() {
      return started(admin);
    },
    inSchema: (schema) => `${started(server).url}?options=${encodeURIComponent(`-c search_path=${schema}`)}`,
  };
}
