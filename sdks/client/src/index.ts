export { CebusError, type CloudEventJson, type ErrorCode, type EventInput } from "@cebus/core";
export type { CloudEvent, DeadLetter } from "@cebus/proto";
export type { Admin, StartAt, SubscriptionOptions, TopicOptions } from "./admin.js";
export {
  type CebusClient,
  type ClientSetup,
  createCebusClient,
  type PublishOptions,
  type PublishResult,
  type SubscribeOptions,
} from "./client.js";
export { toCebusError } from "./errors.js";
export {
  createMemoryProcessedEvents,
  type IdempotentOptions,
  type IdempotentOutcome,
  idempotent,
  type ProcessedEvents,
  processedKey,
} from "./idempotent.js";
export type { Message } from "./message.js";
export type { BatchingOptions } from "./publish-batcher.js";
export type { SequenceAnomaly } from "./sequence-check.js";
export type { Subscription, SubscriptionStatus } from "./subscription.js";
