import type { StoreChange } from "@cebus/store";
import type { Pool, PoolClient } from "pg";
import { CHANNEL } from "./postgres-client.js";

/**
 * Store.watch on PostgreSQL: one pooled connection LISTENs on the change channel (re-established 500 ms after it is
 * lost) and hands every change any broker NOTIFYed to the listeners of this store.
 */
export interface ChangeFeed {
  watch(listener: (change: StoreChange) => void): () => void;
  close(): void;
}

interface Feed {
  pool: Pool;
  listeners: Set<(change: StoreChange) => void>;
  connection: PoolClient | undefined;
  closed: boolean;
}

/** Starts listening when `listen` is set; without it, watch() never reports anything. */
export function createChangeFeed(pool: Pool, listen: boolean): ChangeFeed {
  const feed: Feed = { pool, listeners: new Set(), connection: undefined, closed: !listen };
  void connect(feed);
  return {
    watch(listener) {
      feed.listeners.add(listener);
      return () => {
        feed.listeners.delete(listener);
      };
    },
    close() {
      feed.closed = true;
      const connection = feed.connection;
      feed.connection = undefined;
      connection?.release(true);
    },
  };
}

async function connect(feed: Feed): Promise<void> {
  if (feed.closed) return;
  try {
    const client = await feed.pool.connect();
    if (feed.closed) {
      client.release(true);
      return;
    }
    feed.connection = client;
    const again = () => reconnect(feed, client);
    client.on("error", again);
    client.on("end", again);
    client.on("notification", (message) => {
      if (message.channel === CHANNEL && message.payload) deliver(feed, message.payload);
    });
    await client.query(`LISTEN ${CHANNEL}`);
  } catch {
    setTimeout(() => void connect(feed), 500).unref?.();
  }
}

function reconnect(feed: Feed, client: PoolClient): void {
  if (feed.connection !== client) return;
  feed.connection = undefined;
  client.release(true);
  setTimeout(() => void connect(feed), 500).unref?.();
}

function deliver(feed: Feed, payload: string): void {
  let change: StoreChange;
  try {
    change = JSON.parse(payload) as StoreChange;
  } catch {
    return; // not ours
  }
  for (const listener of feed.listeners) listener(change);
}
