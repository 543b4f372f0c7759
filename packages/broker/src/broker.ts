import type {
  CloudEvent,
  DeadLetter,
  Position,
  PublishResult,
  Subscription,
  SubscriptionStats,
  Topic,
  TopicRecord,
  TopicStats,
} from "@cebus/proto";
import type { Store } from "@cebus/store";
import type { Admin } from "./admin.js";
import { createAdmin } from "./admin.js";
import type { Consumer } from "./consumer.js";
import { type ConsumerRegistry, type ConsumerRequest, createConsumerRegistry } from "./consumer-registry.js";
import type { BrokerContext, EngineContext } from "./context.js";
import { createDeadLetters, type DeadLetters } from "./dead-letters.js";
import { type BrokerLimits, defaultLimits } from "./defaults.js";
import { type Logger, silentLogger } from "./logger.js";
import { createSubscriptionCache, createTopicCache } from "./lookup.js";
import { createPositions } from "./positions.js";
import { createPublisher } from "./publish.js";
import { createRetention } from "./retention.js";
import {
  createSettler,
  type SettleKind,
  type SettleOptions,
  type SettleOutcome,
  type Settler,
} from "./settle.js";

export type { ConsumerRequest } from "./consumer-registry.js";
export type { SettleKind, SettleOptions, SettleOutcome } from "./settle.js";

export interface BrokerOptions {
  store: Store;
  logger?: Logger;
  limits?: Partial<BrokerLimits>;
  /**
   * How often idle consumers first look for work other broker processes made visible, doubling up to
   * `maxPollIntervalMs` [1000 ms on a shared store; `maxPollIntervalMs` on the embedded one, which no other process
   * writes].
   */
  pollIntervalMs?: number;
  /**
   * The longest an idle consumer goes without looking at the store [2 s on a shared store, 5 min on the embedded
   * one]. Publishes through this broker, settles and nacks wake consumers at once, and so do the instants the store
   * reports at which a lease becomes claimable again (`ClaimResult.nextVisibleAt`: expiries, retry delays, leases
   * left by a previous run); the poll finds work done by other broker processes on a shared store, and is a safety
   * net on the embedded one.
   */
  maxPollIntervalMs?: number;
  /** How often retention runs [60 s]; 0 turns the timer off (applyRetention still works). */
  retentionIntervalMs?: number;
  /** The clock, injectable for tests. */
  now?: () => number;
}

/** The broker engine: topics, subscriptions, publishing and delivery over one store. */
export interface Broker {
  createTopic(topic: Topic, options?: { ifNotExists?: boolean }): Promise<Topic>;
  getTopic(name: string): Promise<Topic>;
  listTopics(): Promise<Topic[]>;
  deleteTopic(name: string, options?: { force?: boolean }): Promise<void>;
  topicStats(name: string): Promise<TopicStats>;
  createSubscription(subscription: Subscription, options?: { ifNotExists?: boolean }): Promise<Subscription>;
  getSubscription(name: string): Promise<Subscription>;
  listSubscriptions(topic?: string): Promise<Subscription[]>;
  deleteSubscription(name: string): Promise<void>;
  subscriptionStats(name: string): Promise<SubscriptionStats>;
  seek(subscription: string, position: Position | undefined): Promise<void>;
  /** Appends a batch of events, all or nothing; results in input order. */
  publish(topic: string, events: CloudEvent[]): Promise<PublishResult[]>;
  openConsumer(request: ConsumerRequest): Promise<Consumer>;
  /**
   * Closes a consumer of this process cleanly (what a Receive client asks for when it stops): its unsettled events
   * are released for redelivery at once. Returns how many; not_found when no such consumer is open here.
   */
  endConsumer(subscription: string, consumerId: string): Promise<number>;
  /** Reads a range of one partition without a subscription; below the oldest retained offset is out_of_range. */
  readTopic(
    topic: string,
    partition: number,
    fromOffset: number,
    limit: number,
  ): Promise<{ records: TopicRecord[]; nextOffset: number }>;
  listDeadLetters(subscription: string, limit?: number): Promise<DeadLetter[]>;
  /** Delivers dead-lettered events again to their original subscription only; returns how many. */
  redriveDeadLetters(subscription: string, eventIds?: string[]): Promise<number>;
  /** Applies every topic's retention now (the broker also does it on a timer). Returns events removed. */
  applyRetention(): Promise<number>;
  /** Settles deliveries of a subscription, from any consumer on any broker process over the same store. */
  settle(
    subscription: string,
    kind: SettleKind,
    deliveryIds: string[],
    options?: SettleOptions,
  ): Promise<SettleOutcome[]>;
  /** False once draining or closing. */
  ready(): boolean;
  /**
   * Graceful shutdown, first half: refuses new consumers and ends every consumer stream, keeping their leases
   * until the ack deadline (the store holds them, so acks sent to a restarted broker still count).
   */
  drain(): Promise<void>;
  /** Drains, then closes the store. */
  close(): Promise<void>;
}

/** What consumers need from the broker, wired from its parts. */

/**
 * Idle polling: on a shared store (one with `watch`) other processes change leases behind this one's back, so
 * consumers poll from 1 s up to 2 s; the embedded store has no other writer, so its consumers rely on wakes and on
 * `nextVisibleAt`, with a 5-minute safety poll (an idle broker with 1,000 consumers then stays near zero CPU).
 */
function pollIntervals(
  options: BrokerOptions,
  shared: boolean,
): { pollIntervalMs: number; maxPollIntervalMs: number } {
  const max = options.maxPollIntervalMs ?? (shared ? 2000 : 300_000);
  const first = options.pollIntervalMs ?? (shared ? 1000 : max);
  return { pollIntervalMs: first, maxPollIntervalMs: Math.max(first, max) };
}
function engineContext(
  ctx: BrokerContext,
  options: BrokerOptions,
  registry: ConsumerRegistry,
  deadLetters: DeadLetters,
  settler: Settler,
): EngineContext {
  return {
    store: ctx.store,
    limits: ctx.limits,
    logger: ctx.logger,
    ...pollIntervals(options, ctx.store.watch !== undefined),
    now: ctx.now,
    wakeSubscriptionAt: registry.wakeSubscriptionAt,
    terminate: deadLetters.terminate,
    settle: settler.settleFor,
    track: registry.track,
    untrack: registry.untrack,
    detach: registry.detach,
  };
}

/** Changes made through other broker processes on a shared store wake our consumers too. */
function watchStore(ctx: BrokerContext, registry: ConsumerRegistry): (() => void) | undefined {
  return ctx.store.watch?.((change) => {
    if (ctx.closing) return;
    if (change.subscription !== undefined)
      registry.wakeSubscriptionAt(change.subscription, change.topic, change.at ?? ctx.now());
    else registry.wakeTopic(change.topic);
  });
}

export function createBroker(options: BrokerOptions): Broker {
  const now = options.now ?? Date.now;
  const ctx: BrokerContext = {
    store: options.store,
    subscriptions: createSubscriptionCache(options.store, now),
    topics: createTopicCache(options.store, now),
    limits: { ...defaultLimits, ...options.limits },
    logger: options.logger ?? silentLogger,
    now,
    closing: false,
  };
  const registry = createConsumerRegistry(ctx);
  const publisher = createPublisher(ctx, registry);
  const deadLetters = createDeadLetters(ctx, publisher, registry);
  const settler = createSettler(ctx, registry, deadLetters);
  const engine = engineContext(ctx, options, registry, deadLetters, settler);
  const admin: Admin = createAdmin(ctx, registry);
  const positions = createPositions(ctx, registry);
  const unwatch = watchStore(ctx, registry);
  const retention = createRetention(ctx, options.retentionIntervalMs ?? 60_000);
  let closed = false;

  const broker: Broker = {
    ...admin,
    seek: positions.seek,
    readTopic: positions.readTopic,
    publish: publisher.publish,
    openConsumer: (request) => registry.open(engine, request),
    endConsumer: registry.end,
    settle: settler.settle,
    listDeadLetters: deadLetters.list,
    redriveDeadLetters: deadLetters.redrive,
    applyRetention: retention.apply,
    ready: () => !ctx.closing && (ctx.store.healthy?.() ?? true),
    async drain() {
      ctx.closing = true;
      await registry.endWhere(() => true, false);
    },
    async close() {
      if (closed) return;
      closed = true;
      await broker.drain();
      unwatch?.();
      retention.stop();
      registry.stopTimers();
      await ctx.store.close();
    },
  };
  return broker;
}
