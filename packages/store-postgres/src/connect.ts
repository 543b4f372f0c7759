import { CebusError } from "@cebus/core";
import type { Store } from "@cebus/store";
import pg from "pg";
import { migrations } from "./migrations.js";
import { createPostgresStore } from "./postgres-store.js";

export interface PostgresConnectOptions {
  /** Give up connecting after this long [5 s]. */
  connectTimeoutMs?: number;
  /** Pool size [10]. */
  maxConnections?: number;
}

export const redactUrl = (url: string) => url.replace(/\/\/([^:@/]*):([^@/]+)@/, "//$1:***@");

/** Applies the migrations not yet applied, in one transaction under an advisory lock: all or nothing. */
export async function migrate(client: pg.ClientBase): Promise<number[]> {
  await client.query("BEGIN");
  try {
    await client.query("SELECT pg_advisory_xact_lock(hashtext('cebus_migrations'))");
    await client.query(
      "CREATE TABLE IF NOT EXISTS cebus_migrations (version int PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())",
    );
    const done = new Set(
      (await client.query("SELECT version FROM cebus_migrations")).rows.map((r) => Number(r.version)),
    );
    const applied: number[] = [];
    for (const m of migrations) {
      if (done.has(m.version)) continue;
      await client.query(m.sql);
      await m.after?.(client);
      await client.query("INSERT INTO cebus_migrations (version, name) VALUES ($1, $2)", [m.version, m.name]);
      applied.push(m.version);
    }
    await client.query("COMMIT");
    return applied;
  } catch (error) {
    await client.query("ROLLBACK").catch(() => {});
    throw error;
  }
}

function explain(error: unknown): string {
  const e = error as { code?: string; message?: string };
  const message = e.message ?? String(error);
  switch (e.code) {
    case "28P01":
    case "28000":
      return `authentication failed (${message}); check the user and password in the URL`;
    case "3D000":
      return `${message}; create the database first (createdb) or fix its name in the URL`;
    case "42501":
      return `permission denied (${message}); the user needs the right to create tables in that database (nothing was changed)`;
    case "ECONNREFUSED":
      return `${message}; is PostgreSQL running there?`;
    default:
      return message;
  }
}

/**
 * Connects to `postgres://user[:password]@host:port/db`, applies the migrations, starts listening for changes from
 * other brokers and returns the store. Any problem is a CebusError whose one-line message names the URL and cause.
 */
export async function openPostgresStore(url: string, options: PostgresConnectOptions = {}): Promise<Store> {
  const shown = redactUrl(url);
  const pool = new pg.Pool({
    connectionString: url,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5000,
    max: options.maxConnections ?? 10,
  });
  pool.on("error", () => {}); // an idle client lost its connection; the pool replaces it
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (error) {
    await pool.end().catch(() => {});
    throw new CebusError("unavailable", `cannot use PostgreSQL at ${shown}: ${explain(error)}`);
  }
  client.on("error", () => {}); // a connection lost during migration fails the query below
  try {
    await migrate(client);
  } catch (error) {
    client.release();
    await pool.end().catch(() => {});
    throw new CebusError(
      "unavailable",
      `cannot use PostgreSQL at ${shown}: migration failed: ${explain(error)}`,
    );
  }
  client.release();
  return createPostgresStore({ pool, listen: true, description: shown, relayOutboxEveryMs: 250 });
}
