import { clone, create, type JsonObject, toJson } from "@bufbuild/protobuf";
import {
  CebusError,
  compileFilter,
  durationMs,
  msToDuration,
  msToTimestamp,
  validateName,
} from "@cebus/core";
import {
  DeliveryMode,
  PositionSchema,
  RetryPolicySchema,
  type Subscription,
  SubscriptionSchema,
  type Topic,
  TopicSchema,
} from "@cebus/proto";

/** Broker-wide limits and defaults; every field can be overridden in `createBroker`. */
export interface BrokerLimits {
  /** Largest event a topic may accept (its max_event_bytes cannot be set above this). */
  maxEventBytesLimit: number;
  defaultMaxEventBytes: number;
  maxPartitions: number;
  defaultRetentionMs: number;
  defaultDedupeWindowMs: number;
  defaultAckDeadlineMs: number;
  minAckDeadlineMs: number;
  maxAckDeadlineMs: number;
  defaultMaxOutstandingEvents: number;
  defaultMaxOutstandingBytes: number;
  maxEventsPerPublish: number;
  /**
   * Backpressure: the most bytes of publishes this broker holds that the store has not answered yet. A publish
   * that would pass it is refused with resource_exhausted and a retry hint (one alone is always admitted).
   */
  maxPendingPublishBytes: number;
  /** The retry hint such a refusal carries [100 ms]; clients wait about this long (with jitter) and publish again. */
  pendingRetryAfterMs: number;
}

export const defaultLimits: BrokerLimits = {
  maxEventBytesLimit: 16 * 1024 * 1024,
  defaultMaxEventBytes: 1024 * 1024,
  maxPartitions: 1024,
  defaultRetentionMs: 7 * 24 * 3600 * 1000,
  defaultDedupeWindowMs: 2 * 60 * 1000,
  defaultAckDeadlineMs: 30_000,
  minAckDeadlineMs: 100,
  maxAckDeadlineMs: 3600 * 1000,
  defaultMaxOutstandingEvents: 100,
  defaultMaxOutstandingBytes: 8 * 1024 * 1024,
  maxEventsPerPublish: 10_000,
  maxPendingPublishBytes: 64 * 1024 * 1024,
  pendingRetryAfterMs: 100,
};

function invalid(field: string, message: string): never {
  throw new CebusError("invalid_argument", `${field} ${message}`, { field });
}

/** Validates a topic as given to CreateTopic and returns it with every default filled in. */
export function normalizeTopic(input: Topic, limits: BrokerLimits, now: number): Topic {
  validateName("topic", input.name, "topic.name");
  const topic = clone(TopicSchema, input);
  if (topic.partitions === 0) topic.partitions = 1;
  if (topic.partitions > limits.maxPartitions) {
    invalid("topic.partitions", `is ${topic.partitions}; use at most ${limits.maxPartitions}`);
  }
  const retention = durationMs(topic.retention, limits.defaultRetentionMs);
  if (retention < 1000)
    invalid("topic.retention", "is under 1s; give at least 1s, or leave it unset for 7 days");
  topic.retention = msToDuration(retention);
  if (topic.retentionBytes < 0n)
    invalid("topic.retention_bytes", "is negative; give a size in bytes, or 0 for no cap");
  const dedupe = durationMs(topic.dedupeWindow, limits.defaultDedupeWindowMs);
  if (dedupe < 0) invalid("topic.dedupe_window", "is negative; give a duration, or 0 to turn dedupe off");
  topic.dedupeWindow = msToDuration(dedupe);
  if (topic.maxEventBytes === 0n) topic.maxEventBytes = BigInt(limits.defaultMaxEventBytes);
  if (topic.maxEventBytes < 0n || topic.maxEventBytes > BigInt(limits.maxEventBytesLimit)) {
    invalid(
      "topic.max_event_bytes",
      `is ${topic.maxEventBytes}; give 1 to ${limits.maxEventBytesLimit} bytes, or leave it unset for 1 MiB`,
    );
  }
  topic.createTime = msToTimestamp(now);
  return topic;
}

/**
 * Validates a subscription as given to CreateSubscription (the topic must exist; the caller checks) and returns it
 * with every default filled in.
 */
export function normalizeSubscription(input: Subscription, limits: BrokerLimits, now: number): Subscription {
  validateName("subscription", input.name, "subscription.name");
  if (input.topic === "") invalid("subscription.topic", "is missing; name the topic to subscribe to");
  const sub = clone(SubscriptionSchema, input);
  compileFilter(sub.filter, "subscription.filter");
  if (sub.deliveryMode === DeliveryMode.UNSPECIFIED) sub.deliveryMode = DeliveryMode.AT_LEAST_ONCE;
  if (!(sub.deliveryMode in DeliveryMode))
    invalid("subscription.delivery_mode", "is not a known delivery mode");
  const deadline = durationMs(sub.ackDeadline, limits.defaultAckDeadlineMs);
  if (deadline < limits.minAckDeadlineMs || deadline > limits.maxAckDeadlineMs) {
    invalid(
      "subscription.ack_deadline",
      `is ${deadline}ms; give ${limits.minAckDeadlineMs}ms to ${limits.maxAckDeadlineMs / 1000}s, or leave it unset for 30s`,
    );
  }
  sub.ackDeadline = msToDuration(deadline);
  if (sub.maxDeliveryAttempts > 1000) {
    invalid("subscription.max_delivery_attempts", "is over 1000; give 1 to 1000, or 0 for unlimited");
  }
  const retry = sub.retryPolicy ?? create(RetryPolicySchema);
  const minBackoff = durationMs(retry.minimumBackoff, 1000);
  const maxBackoff = durationMs(retry.maximumBackoff, 60_000);
  if (minBackoff < 0 || maxBackoff < minBackoff) {
    invalid(
      "subscription.retry_policy",
      "has maximum_backoff below minimum_backoff; make maximum >= minimum",
    );
  }
  if (retry.multiplier === 0) retry.multiplier = 2;
  if (retry.multiplier < 1)
    invalid("subscription.retry_policy.multiplier", "is below 1; give 1 or more (default 2)");
  if (retry.jitter === 0 && !sub.retryPolicy) retry.jitter = 0.1;
  if (retry.jitter < 0 || retry.jitter > 1)
    invalid("subscription.retry_policy.jitter", "must be between 0 and 1");
  retry.minimumBackoff = msToDuration(minBackoff);
  retry.maximumBackoff = msToDuration(maxBackoff);
  sub.retryPolicy = retry;
  if (sub.deadLetterTopic !== "") {
    validateName("topic", sub.deadLetterTopic, "subscription.dead_letter_topic");
    if (sub.deadLetterTopic === sub.topic) {
      invalid("subscription.dead_letter_topic", "is the subscription's own topic; name a separate topic");
    }
  }
  if (!sub.startPosition || sub.startPosition.position.case === undefined) {
    sub.startPosition = create(PositionSchema, { position: { case: "latest", value: {} } });
  }
  sub.createTime = msToTimestamp(now);
  return sub;
}

/** The settings in which `requested` differs from `existing` (create times aside), as "name is X, requested Y". */
export function settingDifferences<T extends Topic | Subscription>(existing: T, requested: T): string[] {
  const a = settingsJson(existing);
  const b = settingsJson(requested);
  return Object.keys({ ...a, ...b })
    .filter((key) => JSON.stringify(a[key]) !== JSON.stringify(b[key]))
    .map((key) => `${key} is ${shown(a[key])}, requested ${shown(b[key])}`);
}

/** True when two configs are the same apart from their create times. */
export function sameSettings<T extends Topic | Subscription>(a: T, b: T): boolean {
  return settingDifferences(a, b).length === 0;
}

function settingsJson(config: Topic | Subscription): JsonObject {
  const options = { alwaysEmitImplicit: true };
  const json =
    config.$typeName === "cebus.v1.Topic"
      ? toJson(TopicSchema, { ...config, createTime: undefined }, options)
      : toJson(SubscriptionSchema, { ...config, createTime: undefined }, options);
  return json as JsonObject;
}

function shown(value: unknown): string {
  return value === undefined ? "unset" : JSON.stringify(value);
}
