import { create } from "@bufbuild/protobuf";
import { SubscriptionSchema, TopicSchema } from "@cebus/proto";
import type { AppendEvent, ClaimRequest, Store } from "../store.js";

/** How the contract suite gets a store: a fresh empty one, and (for durable backends) the same data reopened. */
export interface StoreFactory {
  open(): Promise<Store>;
  /** A new instance over the same data, after the previous one was closed. Omit for non-durable stores. */
  reopen?(): Promise<Store>;
}

export const topic = (name: string, partitions = 1) => create(TopicSchema, { name, partitions });
export const subscription = (name: string, topicName: string) =>
  create(SubscriptionSchema, { name, topic: topicName });

/** The subscription `withSubscription` creates, as the delivery operations name it. */
export const SUB = { subscription: "sub", topic: "t" };

let sequence = 0;
export function events(
  count: number,
  options: { partition?: number; source?: string; size?: number; key?: string } = {},
): AppendEvent[] {
  return Array.from({ length: count }, () => {
    sequence++;
    return {
      partition: options.partition ?? 0,
      source: options.source ?? "/contract",
      id: `e${sequence}`,
      key: options.key,
      data: new Uint8Array(options.size ?? 10).fill(sequence % 256),
    };
  });
}

/** One event, for tests that reuse its (source, id). */
export function one(options: Parameters<typeof events>[1] = {}): AppendEvent {
  return events(1, options)[0] as AppendEvent;
}

export const T0 = 1_800_000_000_000;
export const noDedupe = { now: T0, dedupeSince: T0 + 1 };

export function claimRequest(overrides: Partial<ClaimRequest> = {}): ClaimRequest {
  return {
    subscription: "sub",
    topic: "t",
    partition: 0,
    consumer: "c1",
    max: 100,
    maxBytes: 1 << 30,
    now: T0,
    leaseMs: 1000,
    token: "ltoken1",
    autoAck: false,
    ...overrides,
  };
}

/** A store with topic "t" (given partitions) and subscription "sub" reading it from offset 0. */
export async function withSubscription(factory: StoreFactory, partitions = 1): Promise<Store> {
  const store = await factory.open();
  await store.createTopic(topic("t", partitions));
  await store.createSubscription(subscription("sub", "t"), Array(partitions).fill(0));
  return store;
}
