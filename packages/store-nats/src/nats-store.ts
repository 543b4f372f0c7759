import { CebusError } from "@cebus/core";
import type { Store, StoreChange } from "@cebus/store";
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import { StorageType } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";
import { createCasValues } from "./cas-values.js";
import { createJsRequests } from "./js-requests.js";
import { createNames } from "./names.js";
import { append } from "./nats-append.js";
import type { NatsContext } from "./nats-context.js";
import * as log from "./nats-log.js";
import * as delivery from "./nats-operations.js";
import * as subscriptions from "./nats-subscriptions.js";
import * as topics from "./nats-topics.js";

export interface NatsStoreOptions {
  /** A connected client. The store owns it and closes it on close. */
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  /** Several Cebus installations can share one NATS under different namespaces [cebus]. */
  namespace?: string;
  description?: string;
}

/**
 * The store on NATS JetStream. Each topic partition is a stream (nats-log.ts); topics, subscriptions and the
 * delivery state of each subscription partition are values in a KV bucket, the states changed by compare-and-set
 * (nats-delivery.ts) after the delivery rules decided (nats-operations.ts). JetStream consumers are not used: leases
 * need token-checked settles, nack delays and per-key parking across competing consumers, which a JetStream
 * consumer cannot express. All state is in NATS, so brokers over one NATS act as one.
 */
export async function createNatsStore(options: NatsStoreOptions): Promise<Store> {
  const { nc } = options;
  const names = createNames(options.namespace ?? "cebus");
  const kvm = new Kvm(options.js);
  const meta = await kvm.create(names.metaBucket, { history: 1, storage: StorageType.File });
  const ctx: NatsContext = {
    nc,
    jsm: options.jsm,
    kvm,
    meta,
    values: createCasValues(meta),
    fast: createJsRequests(nc),
    names,
    topics: new Map(),
    dedupeBuckets: new Map(),
    floors: new Map(),
    states: new Map(),
    locks: new Map(),
    announce: (change) => announce(nc, names.changes, change),
  };
  const connection = trackConnection(nc);
  const ensureConnected = () => {
    if (!connection.connected || nc.isClosed())
      throw new CebusError("unavailable", "nats: not connected; the broker retries when NATS is back");
  };
  const store: Store = {
    description: options.description ?? "nats",
    createTopic: (topic) => topics.createTopic(ctx, topic),
    getTopic: (name) => topics.getTopic(ctx, name, true),
    listTopics: () => topics.listTopics(ctx),
    deleteTopic: (name) => topics.deleteTopic(ctx, name),
    partitionStats: (name) => log.partitionStats(ctx, name),
    offsetForTime: (name, partition, time) => log.offsetForTime(ctx, name, partition, time),
    append: async (name, events, opts) => {
      ensureConnected();
      return append(ctx, name, events, opts);
    },
    read: async (name, partition, fromOffset, limit) => {
      await topics.requireTopic(ctx, name);
      return log.readFrom(ctx, name, partition, fromOffset, limit);
    },
    createSubscription: (subscription, cursors) =>
      subscriptions.createSubscription(ctx, subscription, cursors),
    getSubscription: (name) => subscriptions.getSubscription(ctx, name),
    listSubscriptions: (topic) => subscriptions.listSubscriptions(ctx, topic),
    deleteSubscription: (name) => subscriptions.deleteSubscription(ctx, name),
    seek: (ref, cursors) => delivery.seek(ctx, ref, cursors),
    claim: async (request) => {
      ensureConnected();
      return delivery.claim(ctx, request);
    },
    settle: async (ref, action) => {
      ensureConnected();
      return delivery.settle(ctx, ref, action);
    },
    subscriptionStats: (name, now) => delivery.subscriptionCounts(ctx, name, now),
    requeue: (ref, refs, now) => delivery.requeue(ctx, ref, refs, now),
    trim: (name, opts) => delivery.trim(ctx, name, opts),
    healthy: () => connection.connected && !nc.isClosed(),
    watch: createWatch(nc, names.changes),
    async close() {
      ctx.fast.close();
      await nc.drain().catch(() => nc.close());
    },
  };
  return withUnavailableErrors(store);
}

/** Tells every store over this NATS about a change; best effort (consumers also poll). */
function announce(nc: NatsConnection, subject: string, change: StoreChange): void {
  try {
    nc.publish(subject, JSON.stringify(change));
  } catch {
    // best effort
  }
}

/** Follows the connection's status: disconnected until it reconnects. */
function trackConnection(nc: NatsConnection): { connected: boolean } {
  const state = { connected: true };
  void (async () => {
    for await (const status of nc.status()) {
      if (status.type === "disconnect") state.connected = false;
      else if (status.type === "reconnect") state.connected = true;
    }
  })();
  return state;
}

/** Store.watch: the changes every store over this NATS announces, through one subscription. */
function createWatch(nc: NatsConnection, subject: string): NonNullable<Store["watch"]> {
  const listeners = new Set<(change: StoreChange) => void>();
  let subscribed = false;
  return (listener) => {
    listeners.add(listener);
    if (!subscribed) {
      subscribed = true;
      nc.subscribe(subject, {
        callback: (error, msg) => {
          if (error) return;
          let change: StoreChange;
          try {
            change = msg.json<StoreChange>();
          } catch {
            return;
          }
          for (const l of listeners) l(change);
        },
      });
    }
    return () => {
      listeners.delete(listener);
    };
  };
}

/** Every failure leaves as a CebusError: a NATS that is away is `unavailable` (retry), never `internal`. */
function withUnavailableErrors(store: Store): Store {
  for (const [name, value] of Object.entries(store)) {
    if (typeof value !== "function" || name === "watch" || name === "healthy") continue;
    (store as unknown as Record<string, unknown>)[name] = async (...args: unknown[]) => {
      try {
        return await (value as (...a: unknown[]) => Promise<unknown>).apply(store, args);
      } catch (error) {
        if (error instanceof CebusError) throw error;
        const message = error instanceof Error ? error.message : String(error);
        throw new CebusError("unavailable", `nats: ${message}; the broker retries when NATS is back`, {
          cause: error,
        });
      }
    };
  }
  return store;
}
