import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { CebusError } from "@cebus/core";
import { type Subscription, SubscriptionSchema } from "@cebus/proto";
import type { Store, StoreChange } from "@cebus/store";
import type { Cluster, Redis } from "ioredis";
import { createContext, type RedisContext, toBuffer, translate } from "./redis-context.js";
import { createStates, deleteStates } from "./redis-delivery.js";
import * as log from "./redis-log.js";
import * as delivery from "./redis-operations.js";
import { settle } from "./redis-settle.js";

export interface RedisStoreOptions {
  /** A connected ioredis client (standalone) or cluster. The store owns it and quits it on close. */
  redis: Redis | Cluster;
  /** Key namespace [cebus]; several Cebus installations can share one Redis under different namespaces. */
  namespace?: string;
  /** For logs, e.g. the URL without its password. */
  description?: string;
}

/**
 * The store on Redis: topic partitions are Redis Streams (the log, redis-log.ts), and each subscription partition's
 * delivery state is one hash holding what `@cebus/store/delivery` encodes (redis-delivery.ts). The rules decide
 * every claim, settle, requeue, seek, count and trim (redis-operations.ts); each writes its states with a
 * compare-and-set script, so it is atomic across any number of broker processes over this Redis. Consumer groups
 * and their pending lists are not used: leases need nack delays, per-key parking for ordered delivery and
 * token-checked settles, which the PEL cannot express.
 */
export function createRedisStore(options: RedisStoreOptions): Store {
  return storeOn(createContext(options.redis, options.namespace ?? "cebus"), options.description);
}

/** The store over a context (openRedisStore converts a version 1 layout on it first). */
export function storeOn(context: RedisContext, description = "redis"): Store {
  const watcher = createWatcher(context);
  const store: Store = {
    description,
    createTopic: (topic) => log.createTopic(context, topic),
    getTopic: (name) => log.getTopic(context, name),
    listTopics: () => log.listTopics(context),
    deleteTopic: (name) => log.deleteTopic(context, name),
    partitionStats: (topic) => log.partitionStats(context, topic),
    offsetForTime: (topic, partition, time) => log.offsetForTime(context, topic, partition, time),
    append: (topic, events, opts) => log.append(context, topic, events, opts),
    read: (topic, partition, fromOffset, limit) => log.read(context, topic, partition, fromOffset, limit),
    createSubscription: (subscription, cursors) => createSubscription(context, subscription, cursors),
    getSubscription: (name) => getSubscription(context, name),
    listSubscriptions: (topic) => listSubscriptions(context, topic),
    deleteSubscription: (name) => deleteSubscription(context, name),
    seek: (ref, cursors) => delivery.seek(context, ref, cursors),
    claim: (request) => delivery.claim(context, request),
    settle: (ref, action) => settle(context, ref, action),
    subscriptionStats: (name, now) => delivery.subscriptionCounts(context, name, now),
    requeue: (ref, refs, now) => delivery.requeue(context, ref, refs, now),
    trim: (topic, opts) => delivery.trim(context, topic, opts),
    healthy: () => context.redis.status === "ready",
    watch: (listener) => watcher.watch(listener),
    close: async () => {
      await watcher.close();
      await context.redis.quit().catch(() => context.redis.disconnect());
    },
  };
  return withCebusErrors(store);
}

async function createSubscription(
  context: RedisContext,
  subscription: Subscription,
  cursors: number[],
): Promise<boolean> {
  const raw = toBuffer(toBinary(SubscriptionSchema, subscription));
  if ((await context.redis.hsetnx(context.keys.subscriptions, subscription.name, raw)) === 0) return false;
  await createStates(context, subscription.topic, subscription.name, cursors);
  return true;
}

async function getSubscription(context: RedisContext, name: string): Promise<Subscription | undefined> {
  const raw = await context.redis.hgetBuffer(context.keys.subscriptions, name);
  return raw ? fromBinary(SubscriptionSchema, raw) : undefined;
}

async function listSubscriptions(context: RedisContext, topic: string | undefined): Promise<Subscription[]> {
  const all = Object.values(await context.redis.hgetallBuffer(context.keys.subscriptions)).map((raw) =>
    fromBinary(SubscriptionSchema, raw),
  );
  return all
    .filter((s) => topic === undefined || s.topic === topic)
    .sort((a, b) => a.name.localeCompare(b.name));
}

async function deleteSubscription(context: RedisContext, name: string): Promise<boolean> {
  const subscription = await getSubscription(context, name);
  if (!subscription) return false;
  const n = await context.redis.hget(context.keys.meta(subscription.topic), "n");
  await deleteStates(context, subscription.topic, name, Number(n ?? 0));
  await context.redis.hdel(context.keys.subscriptions, name);
  return true;
}

/** The store's `watch`: one subscriber connection on the changes channel, shared by every listener. */
function createWatcher(context: RedisContext) {
  const listeners = new Set<(change: StoreChange) => void>();
  let subscriber: Redis | Cluster | undefined;
  const deliver = (_channel: string, message: string) => {
    let change: StoreChange;
    try {
      change = JSON.parse(message) as StoreChange;
    } catch {
      return;
    }
    for (const listener of listeners) listener(change);
  };
  return {
    watch(listener: (change: StoreChange) => void): () => void {
      listeners.add(listener);
      if (!subscriber) {
        // its own connection, which may queue its SUBSCRIBE until connected (the command connection may not)
        const connection = (context.redis as Redis).duplicate({
          lazyConnect: false,
          enableOfflineQueue: true,
        });
        subscriber = connection;
        connection.on("error", () => {}); // it reconnects and resubscribes by itself
        connection.on("message", deliver);
        void connection.subscribe(context.keys.channel).catch(() => {});
      }
      return () => {
        listeners.delete(listener);
      };
    },
    async close(): Promise<void> {
      await subscriber?.quit().catch(() => subscriber?.disconnect());
    },
  };
}

/** Every failure leaves as a CebusError: a Redis that is away is `unavailable` (retry), never `internal`. */
function withCebusErrors(store: Store): Store {
  const wrapped: Record<string, unknown> = { ...store };
  for (const [name, value] of Object.entries(store)) {
    if (typeof value !== "function" || name === "watch" || name === "healthy") continue;
    wrapped[name] = async (...args: unknown[]) => {
      try {
        return await (value as (...a: unknown[]) => Promise<unknown>)(...args);
      } catch (error) {
        throw error instanceof CebusError ? error : translate(error);
      }
    };
  }
  return wrapped as unknown as Store;
}
