import { CebusError, validateName } from "@cebus/core";
import type { Subscription, Topic } from "@cebus/proto";
import type { Store, SubscriptionRef } from "@cebus/store";

function notFoundTopic(name: string): CebusError {
  return new CebusError(
    "not_found",
    `topic '${name}' does not exist; create it first (AdminService.CreateTopic)`,
    {
      field: "topic",
    },
  );
}

function notFoundSubscription(name: string): CebusError {
  return new CebusError(
    "not_found",
    `subscription '${name}' does not exist; create it first (AdminService.CreateSubscription)`,
    { field: "subscription" },
  );
}

/** The named topic; invalid_argument for a bad name, not_found when it does not exist. */
export async function requireTopic(store: Store, name: string): Promise<Topic> {
  validateName("topic", name, "topic");
  const topic = await store.getTopic(name);
  if (!topic) throw notFoundTopic(name);
  return topic;
}

/** The named subscription; invalid_argument for a bad name, not_found when it does not exist. */
export async function requireSubscription(store: Store, name: string): Promise<Subscription> {
  validateName("subscription", name, "subscription");
  const subscription = await store.getSubscription(name);
  if (!subscription) throw notFoundSubscription(name);
  return subscription;
}

/** A subscription as the store's delivery operations name it. */
export function refOf(subscription: Subscription): SubscriptionRef {
  return { subscription: subscription.name, topic: subscription.topic };
}

/**
 * Topics or subscriptions by name, read from the store at most once per `ttlMs` per name. Neither can be changed,
 * only deleted and created again: this process forgets a name when it does either; another process's delete and
 * re-create is seen within `ttlMs`. A name that is not found (or a failed read) is not kept.
 */
export interface NameCache<T> {
  get(name: string): Promise<T>;
  forget(name: string): void;
}

/** Subscriptions for settles that name one (unary settles, deliveries of other processes). */
export type SubscriptionCache = NameCache<Subscription>;

/**
 * Topics for publishes. A publish must not wait for a store read of its topic first: on the embedded store that
 * read waits for the open group's commit and fsync, a second wait before the append's own. The store's append
 * still refuses a topic deleted meanwhile (not_found, the store contract).
 */
export type TopicCache = NameCache<Topic>;

interface Cached<T> {
  value: Promise<T>;
  readAt: number;
}

function createNameCache<T>(
  read: (name: string) => Promise<T>,
  now: () => number,
  ttlMs: number,
): NameCache<T> {
  const cache = new Map<string, Cached<T>>();
  return {
    get(name) {
      const hit = cache.get(name);
      if (hit && now() - hit.readAt < ttlMs) return hit.value;
      const entry = { value: read(name), readAt: now() };
      cache.set(name, entry);
      entry.value.catch(() => {
        if (cache.get(name) === entry) cache.delete(name); // not found (or the store failed): ask again next time
      });
      return entry.value;
    },
    forget: (name) => void cache.delete(name),
  };
}

export function createSubscriptionCache(store: Store, now: () => number, ttlMs = 1000): SubscriptionCache {
  return createNameCache((name) => requireSubscription(store, name), now, ttlMs);
}

export function createTopicCache(store: Store, now: () => number, ttlMs = 1000): TopicCache {
  return createNameCache((name) => requireTopic(store, name), now, ttlMs);
}
