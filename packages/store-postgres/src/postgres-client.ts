import { CebusError } from "@cebus/core";
import type { StoreChange } from "@cebus/store";
import type { ClientBase, Pool, PoolClient } from "pg";

export type Row = Record<string, unknown>;

/** The channel every broker LISTENs on for changes made by the others. */
export const CHANNEL = "cebus_changes";

/** One open transaction: its connection, and work to do once it committed (never after a rollback). */
export interface Tx {
  client: ClientBase;
  afterCommit(work: () => void): void;
}

/**
 * The store's use of the pool: transactions and single queries, whose failures become `unavailable` errors, and
 * the health the broker reports on /readyz (false from a lost connection until a query or the probe succeeds).
 */
export interface PgClient {
  pool: Pool;
  /** Runs `work` in one transaction; retried from the start when PostgreSQL breaks a deadlock by aborting it. */
  tx<T>(work: (tx: Tx) => Promise<T>): Promise<T>;
  query(text: string, values?: unknown[]): Promise<Row[]>;
  healthy(): boolean;
  /** Stops the health probe (the store is closing). */
  stop(): void;
}

/** SQLSTATEs of a transaction PostgreSQL aborted to let another go on: run it again. */
const retried = new Set(["40P01", "40001"]);
const maxAttempts = 5;

export function createPgClient(pool: Pool): PgClient {
  const health = createHealth(pool);
  pool.on("error", health.lost);
  return {
    pool,
    tx: (work) => transaction(pool, health, work),
    query: (text, values = []) => singleQuery(pool, health, text, values),
    healthy: () => health.healthy,
    stop: health.stop,
  };
}

interface Health {
  healthy: boolean;
  ok(): void;
  lost(): void;
  stop(): void;
}

/** While unhealthy, a probe every 500 ms finds PostgreSQL back even on a broker with no traffic (readyz). */
function createHealth(pool: Pool): Health {
  let probing: NodeJS.Timeout | undefined;
  let stopped = false;
  const health: Health = {
    healthy: true,
    ok: () => {
      health.healthy = true;
    },
    lost: () => {
      health.healthy = false;
      schedule();
    },
    stop: () => {
      stopped = true;
      if (probing) clearTimeout(probing);
    },
  };
  const probe = () => {
    probing = undefined;
    if (health.healthy || stopped) return;
    pool.query("SELECT 1").then(health.ok, schedule);
  };
  const schedule = () => {
    if (!probing && !stopped) probing = setTimeout(probe, 500).unref();
  };
  return health;
}

async function transaction<T>(pool: Pool, health: Health, work: (tx: Tx) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await transactionOnce(pool, health, work);
    } catch (error) {
      const cause = error instanceof CebusError ? error.cause : error;
      if (attempt >= maxAttempts || !retried.has(sqlState(cause) ?? "")) throw error;
    }
  }
}

async function transactionOnce<T>(pool: Pool, health: Health, work: (tx: Tx) => Promise<T>): Promise<T> {
  let client: PoolClient;
  try {
    client = await pool.connect();
  } catch (error) {
    health.lost();
    throw unavailable(error);
  }
  let broken: Error | undefined;
  const lost = (error: Error) => {
    broken = error;
    health.lost(); // the connection died while checked out: the query in flight fails, the pool replaces it
  };
  client.on("error", lost);
  const committed: (() => void)[] = [];
  try {
    await client.query("BEGIN");
    const result = await work({ client, afterCommit: (step) => committed.push(step) });
    await client.query("COMMIT");
    health.ok();
    for (const step of committed) step();
    return result;
  } catch (error) {
    await client.query("ROLLBACK").catch(() => {});
    if (error instanceof CebusError) throw error;
    throw unavailable(error);
  } finally {
    client.off("error", lost);
    client.release(broken); // a broken connection is closed, not returned to the pool
  }
}

async function singleQuery(pool: Pool, health: Health, text: string, values: unknown[]): Promise<Row[]> {
  try {
    const result = await pool.query(text, values);
    health.ok();
    return result.rows as Row[];
  } catch (error) {
    // no SQLSTATE, or a connection/shutdown class (08, 57P): the server is away, not the query wrong
    const code = sqlState(error);
    if (code === undefined || /^(08|57P)/.test(code)) health.lost();
    throw unavailable(error);
  }
}

function sqlState(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === "string" && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

export function unavailable(error: unknown): CebusError {
  const message = error instanceof Error ? error.message : String(error);
  return new CebusError("unavailable", `postgres: ${message}; retry when the database is back`, {
    cause: error,
  });
}

/** Tells every broker (LISTEN) about a change; delivered when the transaction commits. */
export async function notify(client: ClientBase, change: StoreChange): Promise<void> {
  await client.query("SELECT pg_notify($1, $2)", [CHANNEL, JSON.stringify(change)]);
}

export const n = (value: unknown) => Number(value);
