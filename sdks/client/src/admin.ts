import type { MessageInitShape } from "@bufbuild/protobuf";
import { create } from "@bufbuild/protobuf";
import { msToDuration, msToTimestamp } from "@cebus/core";
import {
  type AdminService,
  type DeadLetter,
  DeliveryMode,
  type FilterSchema,
  type Position,
  PositionSchema,
  type Subscription,
  SubscriptionSchema,
  type SubscriptionStats,
  type Topic,
  TopicSchema,
  type TopicStats,
} from "@cebus/proto";
import type { Client } from "@connectrpc/connect";

export interface TopicOptions {
  partitions?: number;
  retentionMs?: number;
  retentionBytes?: number;
  dedupeWindowMs?: number;
  maxEventBytes?: number;
  ifNotExists?: boolean;
}

export type StartAt = "earliest" | "latest" | Date | { partition: number; offset: number }[];

export interface SubscriptionOptions {
  topic: string;
  ordered?: boolean;
  deliveryMode?: "at-least-once" | "at-most-once";
  ackDeadlineMs?: number;
  maxDeliveryAttempts?: number;
  deadLetterTopic?: string;
  /** A filter in the CloudEvents Subscriptions API dialects, e.g. `{ filter: { case: "prefix", value: { attributes: { type: "order." } } } }`. */
  filter?: MessageInitShape<typeof FilterSchema>;
  startAt?: StartAt;
  retry?: { minMs?: number; maxMs?: number; multiplier?: number; jitter?: number };
  ifNotExists?: boolean;
}

/** Typed helpers over AdminService. */
export interface Admin {
  createTopic(name: string, options?: TopicOptions): Promise<Topic>;
  getTopic(name: string): Promise<Topic>;
  listTopics(): Promise<Topic[]>;
  deleteTopic(name: string, options?: { force?: boolean }): Promise<void>;
  topicStats(name: string): Promise<TopicStats>;
  createSubscription(name: string, options: SubscriptionOptions): Promise<Subscription>;
  getSubscription(name: string): Promise<Subscription>;
  listSubscriptions(topic?: string): Promise<Subscription[]>;
  deleteSubscription(name: string): Promise<void>;
  subscriptionStats(name: string): Promise<SubscriptionStats>;
  seek(subscription: string, to: StartAt): Promise<void>;
  /** The subscription's dead letters, oldest first (at most `limit` [100]). */
  listDeadLetters(subscription: string, options?: { limit?: number }): Promise<DeadLetter[]>;
  /** Delivers dead letters again to their original subscription only (all, or those with these event ids); returns how many. */
  redriveDeadLetters(subscription: string, options?: { eventIds?: string[] }): Promise<number>;
}

export function toPosition(at: StartAt): Position {
  if (at === "earliest" || at === "latest")
    return create(PositionSchema, { position: { case: at, value: {} } });
  if (at instanceof Date)
    return create(PositionSchema, { position: { case: "time", value: msToTimestamp(at.getTime()) } });
  return create(PositionSchema, {
    position: {
      case: "offsets",
      value: { offsets: at.map((o) => ({ partition: o.partition, offset: BigInt(o.offset) })) },
    },
  });
}

export function createAdmin(
  admin: Client<typeof AdminService>,
  call: <T>(run: () => Promise<T>) => Promise<T>,
): Admin {
  return {
    createTopic: (name, o = {}) =>
      call(async () => {
        const topic = create(TopicSchema, {
          name,
          partitions: o.partitions ?? 0,
          retention: o.retentionMs === undefined ? undefined : msToDuration(o.retentionMs),
          retentionBytes: BigInt(o.retentionBytes ?? 0),
          dedupeWindow: o.dedupeWindowMs === undefined ? undefined : msToDuration(o.dedupeWindowMs),
          maxEventBytes: BigInt(o.maxEventBytes ?? 0),
        });
        return (await admin.createTopic({ topic, ifNotExists: o.ifNotExists ?? false })).topic as Topic;
      }),
    getTopic: (name) => call(async () => (await admin.getTopic({ name })).topic as Topic),
    listTopics: () => call(async () => (await admin.listTopics({})).topics),
    deleteTopic: (name, o = {}) =>
      call(async () => void (await admin.deleteTopic({ name, force: o.force ?? false }))),
    topicStats: (name) => call(async () => (await admin.getTopicStats({ name })).stats as TopicStats),
    createSubscription: (name, o) =>
      call(async () => {
        const subscription = create(SubscriptionSchema, {
          name,
          topic: o.topic,
          ordered: o.ordered ?? false,
          deliveryMode:
            o.deliveryMode === "at-most-once" ? DeliveryMode.AT_MOST_ONCE : DeliveryMode.AT_LEAST_ONCE,
          ackDeadline: o.ackDeadlineMs === undefined ? undefined : msToDuration(o.ackDeadlineMs),
          maxDeliveryAttempts: o.maxDeliveryAttempts ?? 0,
          deadLetterTopic: o.deadLetterTopic ?? "",
          filter: o.filter,
          startPosition: o.startAt === undefined ? undefined : toPosition(o.startAt),
          retryPolicy: o.retry
            ? {
                minimumBackoff: o.retry.minMs === undefined ? undefined : msToDuration(o.retry.minMs),
                maximumBackoff: o.retry.maxMs === undefined ? undefined : msToDuration(o.retry.maxMs),
                multiplier: o.retry.multiplier ?? 0,
                jitter: o.retry.jitter ?? 0,
              }
            : undefined,
        });
        return (await admin.createSubscription({ subscription, ifNotExists: o.ifNotExists ?? false }))
          .subscription as Subscription;
      }),
    getSubscription: (name) =>
      call(async () => (await admin.getSubscription({ name })).subscription as Subscription),
    listSubscriptions: (topic) =>
      call(async () => (await admin.listSubscriptions({ topic: topic ?? "" })).subscriptions),
    deleteSubscription: (name) => call(async () => void (await admin.deleteSubscription({ name }))),
    subscriptionStats: (name) =>
      call(async () => (await admin.getSubscriptionStats({ name })).stats as SubscriptionStats),
    seek: (subscription, to) =>
      call(async () => void (await admin.seek({ subscription, position: toPosition(to) }))),
    listDeadLetters: (subscription, o = {}) =>
      call(async () => (await admin.listDeadLetters({ subscription, limit: o.limit ?? 0 })).deadLetters),
    redriveDeadLetters: (subscription, o = {}) =>
      call(
        async () => (await admin.redriveDeadLetters({ subscription, eventIds: o.eventIds ?? [] })).redriven,
      ),
  };
}
