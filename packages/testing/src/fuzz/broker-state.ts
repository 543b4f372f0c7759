import { create, toJson } from "@bufbuild/protobuf";
import { SubscriptionSchema, SubscriptionStatsSchema, TopicSchema, TopicStatsSchema } from "@cebus/proto";
import { createRawClients, testEvent } from "../clients.js";

/** Names no random bytes will spell, so a fuzzed call cannot reach this state by luck. */
export const seededNames = {
  topic: "fuzz-orders-q7k2",
  deadLetters: "fuzz-orders-dlq-q7k2",
  subscription: "fuzz-billing-q7k2",
} as const;

/** Gives the broker state a malformed request could disturb: two topics, a subscription, a backlog of five events. */
export async function seedBrokerState(url: string): Promise<void> {
  const { admin, publisher } = createRawClients(url);
  await admin.createTopic({ topic: create(TopicSchema, { name: seededNames.topic, partitions: 2 }) });
  await admin.createTopic({ topic: create(TopicSchema, { name: seededNames.deadLetters, partitions: 1 }) });
  await admin.createSubscription({
    subscription: create(SubscriptionSchema, {
      name: seededNames.subscription,
      topic: seededNames.topic,
      deadLetterTopic: seededNames.deadLetters,
    }),
  });
  await publisher.publish({
    topic: seededNames.topic,
    events: [1, 2, 3, 4, 5].map((n) => testEvent(`seed-${n}`)),
  });
}

/**
 * Everything a request could change, as JSON: topics, subscriptions, each topic's stats, each subscription's
 * backlog, in-flight count and consumers (not the age of its oldest unacked event, which grows by itself).
 */
export async function snapshotBrokerState(url: string): Promise<unknown> {
  const { admin } = createRawClients(url);
  const { topics } = await admin.listTopics({});
  const { subscriptions } = await admin.listSubscriptions({});
  const topicStats = await Promise.all(
    topics.map(async (t) =>
      toJson(TopicStatsSchema, create(TopicStatsSchema, (await admin.getTopicStats({ name: t.name })).stats)),
    ),
  );
  const subscriptionStats = await Promise.all(
    subscriptions.map(async (s) => {
      const stats = create(
        SubscriptionStatsSchema,
        (await admin.getSubscriptionStats({ name: s.name })).stats,
      );
      stats.oldestUnackedAge = undefined;
      return toJson(SubscriptionStatsSchema, stats);
    }),
  );
  return {
    topics: topics.map((t) => toJson(TopicSchema, t)),
    subscriptions: subscriptions.map((s) => toJson(SubscriptionSchema, s)),
    topicStats,
    subscriptionStats,
  };
}
