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
 * Subscriptions by name for settles that name one (unary settles, deliveries of other processes), read from the
 * store at most once per `ttlMs` per name. A subscription cannot be changed, only deleted and created again: this
 * process forgets a name when it does either; another process's delete and re-create is seen within `ttlMs`.
 */
export interface SubscriptionCache {
  get(name: string): Promise<Subscription>;
  forget(name: string): void;
}

interface Cached {
  subscription: Promise<Subscription>;
  readAt: number;
}

export function createSubscriptionCache(store: Store, now: () => number, ttlMs = 1000): SubscriptionCache {
  const cache = new Map<string, Cached>();
  return {
    get(name) {
      const hit = cache.get(name);
      if (hit && now() - hit.readAt < ttlMs) return hit.subscription;
      const subscription = requireSubscription(store, name);
      cache.set(name, { subscription, readAt: now() });
      subscription.catch(() => cache.delete(name)); // not found (or the store failed): ask again next time
      return subscription;
    },
    forget: (name) => void cache.delete(name),
  };
}
