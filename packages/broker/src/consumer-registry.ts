import { randomUUID } from "node:crypto";
import { CebusError } from "@cebus/core";
import { type Consumer, createConsumer, type FlowWindow } from "./consumer.js";
import type { BrokerContext, DeliveryOwner, EngineContext } from "./context.js";
import { requireSubscription, requireTopic } from "./lookup.js";

export interface ConsumerRequest {
  subscription: string;
  flow?: Partial<FlowWindow>;
  name?: string;
}

type OpenConsumer = Consumer & DeliveryOwner;

/** The consumers open on this broker process, the owners of their delivery ids, and waking them. */
export interface ConsumerRegistry {
  /** New events may be available on the topic (in these partitions, when given): wake all its consumers. */
  wakeTopic(topic: string, partitions?: readonly number[]): void;
  /** Wakes the subscription's consumers at `at`. */
  wakeSubscriptionAt(subscription: string, topic: string, at: number): void;
  track(deliveryId: string, owner: DeliveryOwner): void;
  untrack(deliveryId: string): void;
  detach(consumer: DeliveryOwner): void;
  /** The consumer a delivery id was handed to, if it is open here. */
  ownerOf(deliveryId: string): DeliveryOwner | undefined;
  /** Frees the credit of every delivery of the subscription (its cursor moved). */
  releaseSubscription(subscription: string): void;
  /** How many consumers of the subscription are open here. */
  countOf(subscription: string): number;
  open(engine: EngineContext, request: ConsumerRequest): Promise<Consumer>;
  end(subscription: string, consumerId: string): Promise<number>;
  /** Closes the matching consumers; `release` false keeps their leases until the ack deadline. */
  endWhere(predicate: (consumer: DeliveryOwner) => boolean, release?: boolean): Promise<void>;
  /** Cancels pending wake timers. */
  stopTimers(): void;
}

interface RegistryState {
  readonly ctx: BrokerContext;
  readonly consumersByTopic: Map<string, Set<OpenConsumer>>;
  readonly owners: Map<string, DeliveryOwner>;
  readonly wakeTimers: Set<NodeJS.Timeout>;
}

function wakeTopic(state: RegistryState, topic: string, partitions?: readonly number[]): void {
  for (const consumer of state.consumersByTopic.get(topic) ?? []) consumer.wake(partitions);
}

function wakeSubscriptionAt(state: RegistryState, subscription: string, topic: string, at: number): void {
  const timer = setTimeout(
    () => {
      state.wakeTimers.delete(timer);
      for (const consumer of state.consumersByTopic.get(topic) ?? []) {
        if (consumer.subscriptionName === subscription) consumer.wake();
      }
    },
    Math.max(0, at - state.ctx.now() + 1),
  );
  timer.unref?.();
  state.wakeTimers.add(timer);
}

function detach(state: RegistryState, consumer: DeliveryOwner): void {
  const set = state.consumersByTopic.get(consumer.topicName);
  set?.delete(consumer as OpenConsumer);
  if (set?.size === 0) state.consumersByTopic.delete(consumer.topicName);
}

function countOf(state: RegistryState, subscription: string): number {
  let consumers = 0;
  for (const set of state.consumersByTopic.values())
    for (const c of set) if (c.subscriptionName === subscription) consumers++;
  return consumers;
}

async function open(
  state: RegistryState,
  engine: EngineContext,
  request: ConsumerRequest,
): Promise<Consumer> {
  const { ctx, consumersByTopic } = state;
  if (ctx.closing)
    throw new CebusError("unavailable", "the broker is shutting down; reconnect to another broker process");
  const subscription = await requireSubscription(ctx.store, request.subscription);
  const topic = await requireTopic(ctx.store, subscription.topic);
  const flow: FlowWindow = {
    maxEvents: request.flow?.maxEvents || ctx.limits.defaultMaxOutstandingEvents,
    maxBytes: request.flow?.maxBytes || ctx.limits.defaultMaxOutstandingBytes,
  };
  const consumer = createConsumer(engine, {
    id: randomUUID(),
    name: request.name ?? "",
    subscription,
    topic,
    flow,
  });
  let set = consumersByTopic.get(topic.name);
  if (!set) {
    set = new Set();
    consumersByTopic.set(topic.name, set);
  }
  set.add(consumer);
  consumer.wake();
  return consumer;
}

async function end(state: RegistryState, subscriptionName: string, consumerId: string): Promise<number> {
  const subscription = await requireSubscription(state.ctx.store, subscriptionName);
  for (const consumer of state.consumersByTopic.get(subscription.topic) ?? []) {
    if (consumer.id === consumerId && consumer.subscriptionName === subscription.name)
      return consumer.close();
  }
  throw new CebusError(
    "not_found",
    `no consumer ${consumerId} of subscription ${subscription.name} is open on this broker process (it ended already, or another process serves it); its unsettled events return at their ack deadline`,
    { field: "consumer_id" },
  );
}

async function endWhere(
  state: RegistryState,
  predicate: (consumer: DeliveryOwner) => boolean,
  release = true,
): Promise<void> {
  const ending: Promise<number>[] = [];
  for (const set of state.consumersByTopic.values()) {
    for (const consumer of set) if (predicate(consumer)) ending.push(consumer.close({ release }));
  }
  await Promise.all(ending);
}

export function createConsumerRegistry(ctx: BrokerContext): ConsumerRegistry {
  const state: RegistryState = {
    ctx,
    consumersByTopic: new Map(),
    owners: new Map(),
    wakeTimers: new Set(),
  };
  const { owners } = state;
  return {
    wakeTopic: (topic, partitions) => wakeTopic(state, topic, partitions),
    wakeSubscriptionAt: (subscription, topic, at) => wakeSubscriptionAt(state, subscription, topic, at),
    track: (deliveryId, owner) => {
      owners.set(deliveryId, owner);
    },
    untrack: (deliveryId) => {
      owners.delete(deliveryId);
    },
    detach: (consumer) => detach(state, consumer),
    ownerOf: (deliveryId) => owners.get(deliveryId),
    releaseSubscription(subscription) {
      for (const [id, owner] of owners) if (owner.subscriptionName === subscription) owner.settled(id);
    },
    countOf: (subscription) => countOf(state, subscription),
    open: (engine, request) => open(state, engine, request),
    end: (subscription, consumerId) => end(state, subscription, consumerId),
    endWhere: (predicate, release) => endWhere(state, predicate, release),
    stopTimers() {
      for (const timer of state.wakeTimers) clearTimeout(timer);
    },
  };
}
