import { describe, expect, it } from "vitest";
import { runCli, startPostgres } from "./index.js";

describe("a broker on PostgreSQL with a restricted role (real cluster)", () => {
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
