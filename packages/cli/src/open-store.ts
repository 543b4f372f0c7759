import { join, resolve } from "node:path";
import { CebusError } from "@cebus/core";
import type { Store } from "@cebus/store";
import { openNatsStore } from "@cebus/store-nats";
import { openPostgresStore } from "@cebus/store-postgres";
import { openRedisStore } from "@cebus/store-redis";
import { createSqliteStore } from "@cebus/store-sqlite";
import { ConfigError } from "./config.js";

const accepted =
  "memory, sqlite::memory:, sqlite:DIR (the database is DIR/cebus.db), a directory path, redis://host:port[/db], postgres://user@host:port/db or nats://host:port";

/** Opens the store named by a store URL; a store that cannot be used is a ConfigError naming the URL and the cause. */
export async function openStore(url: string): Promise<Store> {
  if (url === "memory" || url === "sqlite::memory:") return createSqliteStore({ path: ":memory:" });
  if (/^(redis|rediss|redis\+cluster):\/\//.test(url)) {
    try {
      return await openRedisStore(url);
    } catch (error) {
      if (error instanceof CebusError) throw new ConfigError(error.message);
      throw error;
    }
  }
  if (/^(postgres|postgresql):\/\//.test(url)) {
    try {
      return await openPostgresStore(url);
    } catch (error) {
      if (error instanceof CebusError) throw new ConfigError(error.message);
      throw error;
    }
  }
  if (/^(nats|tls):\/\//.test(url)) {
    try {
      return await openNatsStore(url);
    } catch (error) {
      if (error instanceof CebusError) throw new ConfigError(error.message);
      throw error;
    }
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url))
    throw new ConfigError(`store '${url}' is not a known store URL; use ${accepted}`);
  const dir = url.startsWith("sqlite:") ? url.slice("sqlite:".length) : url;
  if (dir === "") throw new ConfigError(`store '${url}' names no directory; use ${accepted}`);
  return createSqliteStore({ path: join(resolve(dir), "cebus.db") });
}
