import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { type Subscription, SubscriptionSchema } from "@cebus/proto";
import type { Store } from "@cebus/store";
import type { Pool } from "pg";
import { relayOutbox } from "./outbox.js";
import { createPgClient, type PgClient } from "./postgres-client.js";
import { createStates, forgetStates, type StateCache } from "./postgres-delivery.js";
import * as log from "./postgres-log.js";
import * as delivery from "./postgres-operations.js";
import { createChangeFeed } from "./postgres-watch.js";

export interface PostgresStoreOptions {
  /** A pg Pool on a migrated database (see openPostgresStore). The store ends it on close. */
  pool: Pool;
  description?: string;
  /** Keep a connection LISTENing for changes made by other brokers (re-established after an outage) [false]. */
  listen?: boolean;
  /** Move transactional-outbox rows into their topics this often [off]. */
  relayOutboxEveryMs?: number;
}

/**
 * The store on PostgreSQL, one transaction per operation, safe with several brokers over one database. The log
 * lives in postgres-log.ts; delivery is decided by `@cebus/store/delivery` (postgres-operations.ts) and persisted
 * as one locked state row per subscription partition (postgres-delivery.ts); NOTIFY tells every broker that
 * LISTENs (postgres-watch.ts) about new, nacked, requeued and sought events; the outbox relay (outbox.ts) moves
 * rows into their topics.
 */
export function createPostgresStore(options: PostgresStoreOptions): Store {
  const pg = createPgClient(options.pool);
  const d: delivery.Delivery = { pg, cache: new Map() };
  const feed = createChangeFeed(options.pool, options.listen ?? false);
  const relay = startRelay(options);
  return {
    description: options.description ?? "postgres",
    createTopic: (topic) => log.createTopic(pg, topic),
    getTopic: (name) => log.getTopic(pg, name),
    listTopics: () => log.listTopics(pg),
    deleteTopic: (name) => log.deleteTopic(pg, name),
    partitionStats: (topic) => log.partitionStats(pg, topic),
    offsetForTime: (topic, partition, time) => log.offsetForTime(pg, topic, partition, time),
    append: (topic, events, opts) => pg.tx(({ client }) => log.appendIn(client, topic, events, opts)),
    read: (topic, partition, fromOffset, limit) => log.read(pg, topic, partition, fromOffset, limit),
    createSubscription: (subscription, cursors) => createSubscription(pg, d.cache, subscription, cursors),
    getSubscription: (name) => getSubscription(pg, name),
    listSubscriptions: (topic) => listSubscriptions(pg, topic),
    deleteSubscription: (name) => deleteSubscription(pg, d.cache, name),
    seek: (ref, cursors) => delivery.seek(d, ref, cursors),
    claim: (request) => delivery.claim(d, request),
    settle: (ref, action) => delivery.settle(d, ref, action),
    subscriptionStats: (name, now) => delivery.subscriptionCounts(d, name, now),
    requeue: (ref, refs, now) => delivery.requeue(d, ref, refs, now),
    trim: (topic, opts) => delivery.trim(d, topic, opts),
    watch: (listener) => feed.watch(listener),
    healthy: () => pg.healthy(),
    async close() {
      await relay.stop();
      pg.stop();
      feed.close();
      await options.pool.end();
    },
  };
}

/** The outbox relay on a timer, one round at a time. */
function startRelay(options: PostgresStoreOptions): { stop(): Promise<void> } {
  let relaying: Promise<unknown> = Promise.resolve();
  const timer = options.relayOutboxEveryMs
    ? setInterval(() => {
        relaying = relaying.then(() => relayOutbox(options.pool, log.appendIn, Date.now).catch(() => 0));
      }, options.relayOutboxEveryMs)
    : undefined;
  timer?.unref?.();
  return {
    async stop() {
      if (timer) clearInterval(timer);
      await relaying;
    },
  };
}

function createSubscription(
  pg: PgClient,
  cache: StateCache,
  subscription: Subscription,
  cursors: number[],
): Promise<boolean> {
  return pg.tx(async (tx) => {
    const inserted = await tx.client.query(
      "INSERT INTO cebus_subscriptions (name, topic, config) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
      [subscription.name, subscription.topic, Buffer.from(toBinary(SubscriptionSchema, subscription))],
    );
    if (inserted.rowCount === 0) return false;
    await createStates(tx, cache, subscription.name, cursors);
    return true;
  });
}

async function getSubscription(pg: PgClient, name: string): Promise<Subscription | undefined> {
  const [row] = await pg.query("SELECT config FROM cebus_subscriptions WHERE name = $1", [name]);
  return row ? fromBinary(SubscriptionSchema, row.config as Buffer) : undefined;
}

async function listSubscriptions(pg: PgClient, topic: string | undefined): Promise<Subscription[]> {
  const rows =
    topic === undefined
      ? await pg.query("SELECT config FROM cebus_subscriptions ORDER BY name")
      : await pg.query("SELECT config FROM cebus_subscriptions WHERE topic = $1 ORDER BY name", [topic]);
  return rows.map((r) => fromBinary(SubscriptionSchema, r.config as Buffer));
}

/** Deletes the subscription; its state rows go with it (ON DELETE CASCADE). */
async function deleteSubscription(pg: PgClient, cache: StateCache, name: string): Promise<boolean> {
  const rows = await pg.query("DELETE FROM cebus_subscriptions WHERE name = $1 RETURNING name", [name]);
  forgetStates(cache, name);
  return rows.length > 0;
}
