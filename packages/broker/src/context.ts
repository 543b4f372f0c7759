import type { Subscription } from "@cebus/proto";
import type { Store } from "@cebus/store";
import type { Failed } from "./dead-letters.js";
import type { BrokerLimits } from "./defaults.js";
import type { Logger } from "./logger.js";
import type { SubscriptionCache, TopicCache } from "./lookup.js";
import type { SettleKind, SettleOptions, SettleOutcome } from "./settle.js";

/** What a consumer needs from the broker that owns it. */
export interface EngineContext {
  readonly store: Store;
  readonly limits: BrokerLimits;
  readonly logger: Logger;
  /** How often an idle consumer looks for work it was not woken for; doubles while idle, up to maxPollIntervalMs. */
  readonly pollIntervalMs: number;
  readonly maxPollIntervalMs: number;
  now(): number;
  /** Wakes the subscription's consumers at `at` (leases a broken connection left behind come back then). */
  wakeSubscriptionAt(subscription: string, topic: string, at: number): void;
  /** Ends the leases of failed events, moving them to the subscription's dead-letter topic (if any), atomically. */
  terminate(subscription: Subscription, failed: Failed[], reason: string): Promise<boolean[]>;
  /** Settles deliveries of a subscription this process holds (the straight path of a Consume stream). */
  settle(
    subscription: Subscription,
    kind: SettleKind,
    deliveryIds: string[],
    options?: SettleOptions,
  ): Promise<SettleOutcome[]>;
  /** Hands a delivery id to its consumer so settles through any path return its credit. */
  track(deliveryId: string, owner: DeliveryOwner): void;
  untrack(deliveryId: string): void;
  detach(consumer: DeliveryOwner): void;
}

/** The side of a consumer that settles touch. */
export interface DeliveryOwner {
  readonly id: string;
  readonly subscriptionName: string;
  readonly topicName: string;
  /** The delivery was settled (or its lease moved): free its credit; `deadline` is set for extends. */
  settled(deliveryId: string, extendedTo?: number): void;
  /** The attempt number of an outstanding delivery, for backoff. */
  attemptOf(deliveryId: string): number | undefined;
  /** New events or redeliveries may be available (in these partitions, when given; otherwise in any). */
  wake(partitions?: readonly number[]): void;
}

/** What the parts of one broker (admin, publish, settle, positions, consumers) share. */
export interface BrokerContext {
  readonly store: Store;
  /** Subscriptions by name for settles that name one; admin forgets a name it deletes or creates. */
  readonly subscriptions: SubscriptionCache;
  /** Topics by name for publishes; admin forgets a name it deletes or creates. */
  readonly topics: TopicCache;
  readonly limits: BrokerLimits;
  readonly logger: Logger;
  now(): number;
  /** Set once draining or closing: no new publishes or consumers. */
  closing: boolean;
}
