import type { CloudEvent, Subscription } from "@cebus/proto";
import type { LeaseRef, Store } from "@cebus/store";
import type { BrokerLimits } from "./defaults.js";
import type { Logger } from "./logger.js";

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
  /** Moves an event to the subscription's dead-letter topic (if any) and ends its lease. */
  deadLetter(
    subscription: Subscription,
    event: CloudEvent,
    lease: LeaseRef,
    attempts: number,
    reason: string,
  ): Promise<void>;
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
  /** New events or redeliveries may be available. */
  wake(): void;
}

/** What the parts of one broker (admin, publish, settle, positions, consumers) share. */
export interface BrokerContext {
  readonly store: Store;
  readonly limits: BrokerLimits;
  readonly logger: Logger;
  now(): number;
  /** Set once draining or closing: no new publishes or consumers. */
  closing: boolean;
}
