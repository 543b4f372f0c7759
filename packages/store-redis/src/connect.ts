import { CebusError } from "@cebus/core";
import type { Store } from "@cebus/store";
import { Cluster, Redis } from "ioredis";
import { migrateLeases } from "./migrate-leases.js";
import { createContext } from "./redis-context.js";
import { storeOn } from "./redis-store.js";

export interface RedisConnectOptions {
  /** Give up connecting after this long [5 s]. */
  connectTimeoutMs?: number;
  namespace?: string;
}

/** The URL for logs: the password replaced by ***. */
export const redactUrl = (url: string) => url.replace(/\/\/([^:@/]*):([^@/]+)@/, "//$1:***@");

/**
 * Connects to `redis://[user:password@]host:port[/db]` (or `rediss://` for TLS, or `redis+cluster://host:port,host:port`
 * for a Redis Cluster), checks it is usable (Redis 6.2 or newer, for XTRIM MINID and Lua), and returns the store.
 * A Redis holding subscriptions in the version 1 layout is converted first (migrate-leases.ts).
 * Any problem is a CebusError whose one-line message names the URL and the cause; nothing is written before that.
 */
export async function openRedisStore(url: string, options: RedisConnectOptions = {}): Promise<Store> {
  const shown = redactUrl(url);
  const timeout = options.connectTimeoutMs ?? 5000;
  // While Redis is away commands fail at once (unavailable) instead of queueing: a publish is never OK-then-lost,
  // and clients retry. ioredis keeps reconnecting in the background.
  const common = {
    lazyConnect: true,
    connectTimeout: timeout,
    maxRetriesPerRequest: 1,
    enableReadyCheck: true,
    enableOfflineQueue: false,
  };
  let redis: Redis | Cluster;
  if (url.startsWith("redis+cluster://")) {
    const nodes = url
      .slice("redis+cluster://".length)
      .split(",")
      .map((hostPort) => {
        const [host, port] = hostPort.split(":");
        return { host: host || "127.0.0.1", port: Number(port || 6379) };
      });
    redis = new Cluster(nodes, { lazyConnect: true, redisOptions: common });
  } else {
    redis = new Redis(url, { ...common, retryStrategy: (times) => Math.min(times * 50, 500) });
  }
  const fail = (cause: string) => {
    redis.disconnect();
    return new CebusError("unavailable", `cannot use Redis at ${shown}: ${cause}`);
  };
  let lastError: Error | undefined;
  redis.on("error", (error: Error) => {
    lastError = error; // later errors surface through commands; ioredis reconnects by itself
  });
  try {
    await Promise.race([
      redis.connect(),
      new Promise((_, reject) =>
        setTimeout(() => reject(new Error(`no answer within ${timeout} ms`)), timeout),
      ),
    ]);
  } catch (error) {
    const message = (lastError ?? (error instanceof Error ? error : new Error(String(error)))).message;
    if (/WRONGPASS|NOAUTH|invalid password|AUTH/i.test(message))
      throw fail(`authentication failed (${message}); check the user and password in the URL`);
    throw fail(`${message}; is redis-server running there?`);
  }
  try {
    const info = await redis.info("server");
    const version = /redis_version:(\d+)\.(\d+)/.exec(info);
    if (!version || Number(version[1]) * 100 + Number(version[2]) < 602) {
      throw fail(
        `Redis ${version ? `${version[1]}.${version[2]}` : "of unknown version"} is too old; Cebus needs 6.2 or newer (streams with XTRIM MINID)`,
      );
    }
  } catch (error) {
    if (error instanceof CebusError) throw error;
    const message = error instanceof Error ? error.message : String(error);
    throw fail(/NOAUTH|WRONGPASS/.test(message) ? `authentication failed (${message})` : message);
  }
  const context = createContext(redis, options.namespace ?? "cebus");
  try {
    await migrateLeases(context);
  } catch (error) {
    redis.disconnect();
    const message = error instanceof Error ? error.message : String(error);
    throw new CebusError(
      "unavailable",
      `cannot use Redis at ${shown}: converting the lease layout failed: ${message}`,
    );
  }
  return storeOn(context, shown);
}
