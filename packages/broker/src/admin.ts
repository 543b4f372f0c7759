import { create } from "@bufbuild/protobuf";
import { CebusError, msToDuration } from "@cebus/core";
import {
  type Subscription,
  type SubscriptionStats,
  SubscriptionStatsSchema,
  type Topic,
  type TopicStats,
  TopicStatsSchema,
} from "@cebus/proto";
import type { ConsumerRegistry } from "./consumer-registry.js";
import type { BrokerContext } from "./context.js";
import { normalizeSubscription, normalizeTopic, settingDifferences } from "./defaults.js";
import { requireSubscription, requireTopic } from "./lookup.js";
import { cursorsFor } from "./positions.js";

/** Topics and subscriptions: create (with defaults), get, list, delete and their stats. */
export interface Admin {
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
}

/** The already_exists error of a create: which settings differ, and what to do (in the API's words). */
function alreadyExists(
  what: string,
  differences: string[],
  ifNotExists: boolean | undefined,
  field: string,
): CebusError {
  const differ = differences.length > 0 ? ` with other settings (${differences.join("; ")})` : "";
  const hint = ifNotExists
    ? "delete it first, or request the same settings"
    : differences.length > 0
      ? "pick another name, or delete it first"
      : "pick another name, or set if_not_exists to reuse it";
  return new CebusError("already_exists", `${what} already exists${differ}; ${hint}`, { field });
}

async function createTopic(
  ctx: BrokerContext,
  input: Topic,
  opts: { ifNotExists?: boolean },
): Promise<Topic> {
  const topic = normalizeTopic(input, ctx.limits, ctx.now());
  if (await ctx.store.createTopic(topic)) {
    ctx.topics.forget(topic.name);
    ctx.logger.info({ topic: topic.name, partitions: topic.partitions }, "topic created");
    return topic;
  }
  const existing = (await ctx.store.getTopic(topic.name)) as Topic;
  const differences = settingDifferences(existing, topic);
  if (opts.ifNotExists && differences.length === 0) return existing;
  throw alreadyExists(`topic '${topic.name}'`, differences, opts.ifNotExists, "topic.name");
}

async function deleteTopic(
  ctx: BrokerContext,
  registry: ConsumerRegistry,
  name: string,
  opts: { force?: boolean },
): Promise<void> {
  await requireTopic(ctx.store, name);
  const subscriptions = await ctx.store.listSubscriptions(name);
  if (subscriptions.length > 0 && !opts.force) {
    throw new CebusError(
      "failed_precondition",
      `topic '${name}' has subscriptions (${subscriptions.map((s) => s.name).join(", ")}); delete them first, or set force to delete them too`,
    );
  }
  for (const subscription of subscriptions) await deleteSubscription(ctx, registry, subscription.name);
  await ctx.store.deleteTopic(name);
  ctx.topics.forget(name);
  ctx.logger.info({ topic: name }, "topic deleted");
}

async function topicStats(ctx: BrokerContext, name: string): Promise<TopicStats> {
  await requireTopic(ctx.store, name);
  const partitions = await ctx.store.partitionStats(name);
  return create(TopicStatsSchema, {
    topic: name,
    eventCount: BigInt(partitions.reduce((n, p) => n + p.eventCount, 0)),
    bytes: BigInt(partitions.reduce((n, p) => n + p.bytes, 0)),
    partitions: partitions.map((p) => ({
      partition: p.partition,
      startOffset: BigInt(p.startOffset),
      endOffset: BigInt(p.endOffset),
      eventCount: BigInt(p.eventCount),
      bytes: BigInt(p.bytes),
    })),
  });
}

/** The subscription's topic and dead-letter topic must exist. */
async function requireSubscriptionTopic(ctx: BrokerContext, subscription: Subscription): Promise<Topic> {
  const topic = await ctx.store.getTopic(subscription.topic);
  if (!topic) {
    throw new CebusError(
      "not_found",
      `subscription.topic '${subscription.topic}' does not exist; create the topic first (AdminService.CreateTopic)`,
      { field: "subscription.topic" },
    );
  }
  if (subscription.deadLetterTopic !== "" && !(await ctx.store.getTopic(subscription.deadLetterTopic))) {
    throw new CebusError(
      "not_found",
      `subscription.dead_letter_topic '${subscription.deadLetterTopic}' does not exist; create that topic first (AdminService.CreateTopic)`,
      { field: "subscription.dead_letter_topic" },
    );
  }
  return topic;
}

async function createSubscription(
  ctx: BrokerContext,
  input: Subscription,
  opts: { ifNotExists?: boolean },
): Promise<Subscription> {
  const subscription = normalizeSubscription(input, ctx.limits, ctx.now());
  const topic = await requireSubscriptionTopic(ctx, subscription);
  const cursors = await cursorsFor(
    ctx.store,
    topic,
    subscription.startPosition,
    "subscription.start_position",
  );
  if (await ctx.store.createSubscription(subscription, cursors)) {
    ctx.subscriptions.forget(subscription.name);
    ctx.logger.info({ subscription: subscription.name, topic: topic.name }, "subscription created");
    return subscription;
  }
  const existing = (await ctx.store.getSubscription(subscription.name)) as Subscription;
  const differences = settingDifferences(existing, subscription);
  if (opts.ifNotExists && differences.length === 0) return existing;
  throw alreadyExists(
    `subscription '${subscription.name}'`,
    differences,
    opts.ifNotExists,
    "subscription.name",
  );
}

async function deleteSubscription(
  ctx: BrokerContext,
  registry: ConsumerRegistry,
  name: string,
): Promise<void> {
  await requireSubscription(ctx.store, name);
  await registry.endWhere((c) => c.subscriptionName === name);
  await ctx.store.deleteSubscription(name);
  ctx.subscriptions.forget(name);
  ctx.logger.info({ subscription: name }, "subscription deleted");
}

async function subscriptionStats(
  ctx: BrokerContext,
  registry: ConsumerRegistry,
  name: string,
): Promise<SubscriptionStats> {
  await requireSubscription(ctx.store, name);
  const at = ctx.now();
  const counts = await ctx.store.subscriptionStats(name, at);
  return create(SubscriptionStatsSchema, {
    subscription: name,
    backlog: BigInt(counts.backlog),
    inFlight: BigInt(counts.inFlight),
    oldestUnackedAge:
      counts.oldestUnackedPublishTime === undefined
        ? undefined
        : msToDuration(Math.max(0, at - counts.oldestUnackedPublishTime)),
    consumers: registry.countOf(name),
  });
}

export function createAdmin(ctx: BrokerContext, registry: ConsumerRegistry): Admin {
  const { store } = ctx;
  return {
    createTopic: (topic, opts = {}) => createTopic(ctx, topic, opts),
    getTopic: (name) => requireTopic(store, name),
    listTopics: () => store.listTopics(),
    deleteTopic: (name, opts = {}) => deleteTopic(ctx, registry, name, opts),
    topicStats: (name) => topicStats(ctx, name),
    createSubscription: (subscription, opts = {}) => createSubscription(ctx, subscription, opts),
    getSubscription: (name) => requireSubscription(store, name),
    listSubscriptions: (topic) => store.listSubscriptions(topic || undefined),
    deleteSubscription: (name) => deleteSubscription(ctx, registry, name),
    subscriptionStats: (name) => subscriptionStats(ctx, registry, name),
  };
}
