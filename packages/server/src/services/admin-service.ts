import type { Broker } from "@cebus/broker";
import { CebusError } from "@cebus/core";
import type { AdminService } from "@cebus/proto";
import type { ServiceImpl } from "@connectrpc/connect";

function required<T>(value: T | undefined, field: string): T {
  if (value === undefined) throw new CebusError("invalid_argument", `${field} is missing; set it`, { field });
  return value;
}

export function createAdminService(broker: Broker): ServiceImpl<typeof AdminService> {
  return {
    async createTopic(request) {
      const topic = await broker.createTopic(required(request.topic, "topic"), {
        ifNotExists: request.ifNotExists,
      });
      return { topic };
    },
    async getTopic(request) {
      return { topic: await broker.getTopic(request.name) };
    },
    async listTopics() {
      return { topics: await broker.listTopics() };
    },
    async deleteTopic(request) {
      await broker.deleteTopic(request.name, { force: request.force });
      return {};
    },
    async getTopicStats(request) {
      return { stats: await broker.topicStats(request.name) };
    },
    async createSubscription(request) {
      const subscription = await broker.createSubscription(required(request.subscription, "subscription"), {
        ifNotExists: request.ifNotExists,
      });
      return { subscription };
    },
    async getSubscription(request) {
      return { subscription: await broker.getSubscription(request.name) };
    },
    async listSubscriptions(request) {
      return { subscriptions: await broker.listSubscriptions(request.topic) };
    },
    async deleteSubscription(request) {
      await broker.deleteSubscription(request.name);
      return {};
    },
    async getSubscriptionStats(request) {
      return { stats: await broker.subscriptionStats(request.name) };
    },
    async listDeadLetters(request) {
      return { deadLetters: await broker.listDeadLetters(request.subscription, request.limit) };
    },
    async redriveDeadLetters(request) {
      return { redriven: await broker.redriveDeadLetters(request.subscription, request.eventIds) };
    },
    async seek(request) {
      await broker.seek(request.subscription, request.position);
      return {};
    },
  };
}
