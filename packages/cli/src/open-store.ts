import { join, resolve } from "node:path";
import { CebusError } from "@cebus/core";
import type { Store } from "@cebus/store";
import { ConfigError } from "./config.js";

const accepted =
  "memory, sqlite::memory:, sqlite:DIR[?sync=full|normal&thread=main|worker] (the database is DIR/cebus.db), a directory path, redis://host:port[/db], postgres://user@host:port/db or nats://host:port";

/**
 * Opens the store named by a store URL; a store that cannot be used is a ConfigError naming the URL or path and
 * the cause. Each store package is imported only in the branch that opens it, so client-only commands never load
 * one (the embedded store needs `node:sqlite`, which older Node versions lack).
 */
export async function openStore(url: string): Promise<Store> {
  if (url === "memory" || url === "sqlite::memory:") return openSqlite(":memory:");
  if (/^(redis|rediss|redis\+cluster):\/\//.test(url)) {
    return asConfigError(async () => (await import("@cebus/store-redis")).openRedisStore(url));
  }
  if (/^(postgres|postgresql):\/\//.test(url)) {
    return asConfigError(async () => (await import("@cebus/store-postgres")).openPostgresStore(url));
  }
  if (/^(nats|tls):\/\//.test(url)) {
    return asConfigError(async () => (await import("@cebus/store-nats")).openNatsStore(url));
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url))
    throw new ConfigError(`store '${url}' is not a known store URL; use ${accepted}`);
  const [dir = "", query] = (url.startsWith("sqlite:") ? url.slice("sqlite:".length) : url).split("?", 2);
  if (dir === "") throw new ConfigError(`store '${url}' names no directory; use ${accepted}`);
  return openSqlite(join(resolve(dir), "cebus.db"), paramsOf(url, query));
}

interface SqliteParams {
  synchronous: "full" | "normal";
  thread: "main" | "worker";
}

/**
 * `?sync=full` (the default): every publish and ack is answered only after an fsync; `?sync=normal`: committed but
 * not fsynced, so a kill -9 loses nothing but a machine crash may lose the last writes. `?thread=worker` runs the
 * store on its own worker thread (default `main`: in the broker's thread; see the sqlite README for the figures).
 */
function paramsOf(url: string, query: string | undefined): SqliteParams {
  const params = new URLSearchParams(query ?? "");
  const unknown = [...params.keys()].filter((key) => key !== "sync" && key !== "thread");
  const sync = params.get("sync") ?? "full";
  const thread = params.get("thread") ?? "main";
  if (
    unknown.length > 0 ||
    (sync !== "full" && sync !== "normal") ||
    (thread !== "main" && thread !== "worker")
  ) {
    throw new ConfigError(
      `store '${url}': the embedded store takes only ?sync=full (the default) or ?sync=normal, and ?thread=main (the default) or ?thread=worker`,
    );
  }
  return { synchronous: sync, thread };
}

/** The embedded store; a directory that cannot be created, a corrupt file or a held lock is a ConfigError. */
function openSqlite(
  path: string,
  { synchronous, thread }: SqliteParams = { synchronous: "full", thread: "main" },
): Promise<Store> {
  return asConfigError(async () => {
    const sqlite = await importSqliteStore();
    return thread === "worker"
      ? sqlite.openSqliteStoreInWorker({ path, synchronous })
      : sqlite.createSqliteStore({ path, synchronous });
  });
}

/** The embedded store's package; on a Node without `node:sqlite` a ConfigError that says what to run instead. */
async function importSqliteStore(): Promise<typeof import("@cebus/store-sqlite")> {
  try {
    return await import("@cebus/store-sqlite");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ERR_UNKNOWN_BUILTIN_MODULE") throw error;
    throw new ConfigError(
      `the embedded store (memory, sqlite:DIR) needs node:sqlite, which Node ${process.versions.node} lacks; run cebus serve on Node 22.13 or later, or use a redis://, postgres:// or nats:// store`,
    );
  }
}

/** A store that refuses to open (a CebusError: unreachable, wrong credentials, in use, corrupt) is a ConfigError. */
async function asConfigError(open: () => Promise<Store>): Promise<Store> {
  try {
    return await open();
  } catch (error) {
    if (error instanceof CebusError) throw new ConfigError(error.message);
    throw error;
  }
}
