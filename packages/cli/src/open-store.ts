import { join, resolve } from "node:path";
import type { Store } from "@cebus/store";
import { createSqliteStore } from "@cebus/store-sqlite";
import { ConfigError } from "./config.js";

const accepted = "memory, sqlite::memory:, sqlite:DIR (the database is DIR/cebus.db) or a directory path";

/** Opens the store named by a store URL. */
export function openStore(url: string): Store {
  if (url === "memory" || url === "sqlite::memory:") return createSqliteStore({ path: ":memory:" });
  const backend = /^(redis|rediss|nats|postgres|postgresql):\/\//.exec(url)?.[1];
  if (backend) {
    throw new ConfigError(
      `the ${backend} backend is not available in this build yet; use --store sqlite:DIR or memory`,
    );
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url))
    throw new ConfigError(`store '${url}' is not a known store URL; use ${accepted}`);
  const dir = url.startsWith("sqlite:") ? url.slice("sqlite:".length) : url;
  if (dir === "") throw new ConfigError(`store '${url}' names no directory; use ${accepted}`);
  return createSqliteStore({ path: join(resolve(dir), "cebus.db") });
}
