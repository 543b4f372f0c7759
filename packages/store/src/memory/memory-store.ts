import { clone } from "@bufbuild/protobuf";
import { CebusError } from "@cebus/core";
import { type Subscription, SubscriptionSchema, type Topic, TopicSchema } from "@cebus/proto";
import { claim, claimResult } from "../delivery/claim.js";
import { partitionCounts, sumCounts } from "../delivery/counts.js";
import { claimInput } from "../delivery/filter.js";
import { requeue } from "../delivery/requeue.js";
import { dropRemoved } from "../delivery/retention.js";
import { seekPartition } from "../delivery/seek.js";
import { byPartition, settleAcross } from "../delivery/settle.js";
import { initialState, type PartitionDeliveryState } from "../delivery/state.js";
import type { ClaimRequest, ClaimResult, SettleAction, Store, SubscriptionCounts } from "../store.js";
import {
  appendEvents,
  createTopicLog,
  endOffset,
  eventReader,
  offsetAtTime,
  type PartitionLog,
  partitionInfo,
  readFrom,
  type TopicLog,
  trimLog,
} from "./topic-log.js";

export interface MemoryStoreOptions {
  /** For logs; default "memory". */
  description?: string;
}

/** A subscription with the delivery state of each of its partitions (index = partition). */
interface SubscriptionEntry {
  subscription: Subscription;
  states: PartitionDeliveryState[];
}

interface Memory {
  topics: Map<string, TopicLog>;
  subscriptions: Map<string, SubscriptionEntry>;
}

/**
 * A store that keeps everything in the process's memory: the log in arrays, each subscription partition's
 * delivery state as the value the delivery rules (../delivery) return. Every operation runs synchronously, so each
 * is atomic. Nothing survives the process: for tests, and for brokers that need no durability.
 */
export function createMemoryStore(options: MemoryStoreOptions = {}): Store {
  const memory: Memory = { topics: new Map(), subscriptions: new Map() };
  const topicLog = (name: string) => memory.topics.get(name);
  return {
    description: options.description ?? "memory",
    createTopic: async (topic) => createTopic(memory, topic),
    getTopic: async (name) => copyTopic(topicLog(name)?.topic),
    listTopics: async () =>
      sortedByName([...memory.topics.values()].map((log) => clone(TopicSchema, log.topic))),
    deleteTopic: async (name) => memory.topics.delete(name),
    partitionStats: async (topic) => {
      const log = topicLog(topic);
      return log ? partitionInfo(log) : [];
    },
    offsetForTime: async (topic, partition, time) =>
      offsetAtTime(requirePartition(memory, topic, partition), time),
    append: async (topic, events, opts) => appendEvents(requireTopic(memory, topic), events, opts),
    read: async (topic, partition, fromOffset, limit) => {
      const log = topicLog(topic)?.partitions[partition];
      return log ? readFrom(log, fromOffset, limit) : [];
    },
    createSubscription: async (subscription, cursors) => createSubscription(memory, subscription, cursors),
    getSubscription: async (name) => copySubscription(memory.subscriptions.get(name)?.subscription),
    listSubscriptions: async (topic) => listSubscriptions(memory, topic),
    deleteSubscription: async (name) => memory.subscriptions.delete(name),
    seek: async (ref, cursors) => seekSubscription(memory, ref.subscription, cursors),
    claim: async (request) => claimPartition(memory, request),
    settle: async (ref, action) => settleLeases(memory, ref.subscription, action),
    subscriptionStats: async (name, now) => subscriptionCounts(memory, name, now),
    requeue: async (ref, refs, now) => requeueEvents(memory, ref.subscription, refs, now),
    trim: async (topic, opts) => trimTopic(memory, topic, opts),
    close: async () => {},
  };
}

function createTopic(memory: Memory, topic: Topic): boolean {
  if (memory.topics.has(topic.name)) return false;
  memory.topics.set(topic.name, createTopicLog(clone(TopicSchema, topic)));
  return true;
}

function createSubscription(memory: Memory, subscription: Subscription, cursors: number[]): boolean {
  if (memory.subscriptions.has(subscription.name)) return false;
  memory.subscriptions.set(subscription.name, {
    subscription: clone(SubscriptionSchema, subscription),
    states: cursors.map(initialState),
  });
  return true;
}

function listSubscriptions(memory: Memory, topic: string | undefined): Subscription[] {
  const all = [...memory.subscriptions.values()].map((entry) => entry.subscription);
  const chosen = topic === undefined ? all : all.filter((subscription) => subscription.topic === topic);
  return sortedByName(chosen.map((subscription) => clone(SubscriptionSchema, subscription)));
}

/** Moves the given cursors (index = partition) and drops every lease of every partition. */
function seekSubscription(memory: Memory, name: string, cursors: number[]): void {
  const entry = memory.subscriptions.get(name);
  if (!entry) return;
  const count = Math.max(entry.states.length, cursors.length);
  entry.states = Array.from(
    { length: count },
    (_, p) => seekPartition(entry.states[p], cursors[p]) ?? initialState(cursors[p] ?? 0),
  );
}

function claimPartition(memory: Memory, request: ClaimRequest): ClaimResult {
  const entry = requireSubscription(memory, request.subscription);
  const state = entry.states[request.partition];
  if (!state) {
    throw new CebusError(
      "not_found",
      `subscription '${request.subscription}' has no partition ${request.partition}`,
      {
        field: "partition",
      },
    );
  }
  const log = partitionOf(memory, entry, request.partition);
  const outcome = claim(state, claimInput(request), eventReader(log));
  entry.states[request.partition] = outcome.state;
  return claimResult(outcome);
}

/** Settles through the rules; a term's dead letters are appended in the same step (nothing runs between). */
function settleLeases(memory: Memory, name: string, action: SettleAction): boolean[] {
  const entry = memory.subscriptions.get(name);
  if (!entry) return action.leases.map(() => false);
  const outcome = settleAcross((partition) => entry.states[partition], action);
  if (outcome.deadLetters.length > 0 && action.deadLetter) {
    const target = requireTopic(memory, action.deadLetter.topic);
    appendEvents(target, outcome.deadLetters, { now: action.now, dedupeSince: action.now + 1 });
  }
  for (const [partition, state] of outcome.states) entry.states[partition] = state;
  return outcome.matches;
}

function requeueEvents(
  memory: Memory,
  name: string,
  refs: { partition: number; offset: number }[],
  now: number,
): number {
  const entry = requireSubscription(memory, name);
  let count = 0;
  for (const [partition, offsets] of byPartition(refs)) {
    const state = entry.states[partition];
    if (!state) continue;
    const outcome = requeue(state, offsets, now, eventReader(partitionOf(memory, entry, partition)));
    entry.states[partition] = outcome.state;
    count += outcome.count;
  }
  return count;
}

/** Retention, then the waiting leases of removed events dropped from every subscription of the topic. */
function trimTopic(memory: Memory, topic: string, options: Parameters<Store["trim"]>[1]): number {
  const log = memory.topics.get(topic);
  if (!log) return 0;
  const removed = trimLog(log, options);
  if (removed === 0) return 0;
  for (const entry of memory.subscriptions.values()) {
    if (entry.subscription.topic !== topic) continue;
    entry.states = entry.states.map((state, p) =>
      dropRemoved(state, eventReader(partitionOf(memory, entry, p))),
    );
  }
  return removed;
}

function subscriptionCounts(memory: Memory, name: string, now: number): SubscriptionCounts {
  const entry = memory.subscriptions.get(name);
  if (!entry) return { backlog: 0, inFlight: 0, oldestUnackedPublishTime: undefined };
  const parts = entry.states.map((state, partition) => {
    const log = partitionOf(memory, entry, partition);
    const range = { startOffset: log.startOffset, endOffset: endOffset(log) };
    return partitionCounts(state, range, now, eventReader(log));
  });
  return sumCounts(parts);
}

/** The log partition a subscription partition reads; an empty one past every offset when the topic is gone. */
function partitionOf(memory: Memory, entry: SubscriptionEntry, partition: number): PartitionLog {
  const log = memory.topics.get(entry.subscription.topic)?.partitions[partition];
  return log ?? { events: [], startOffset: Number.MAX_SAFE_INTEGER, bytes: 0 };
}

function requireTopic(memory: Memory, name: string): TopicLog {
  const log = memory.topics.get(name);
  if (!log)
    throw new CebusError("not_found", `topic '${name}' does not exist; create it first`, { field: "topic" });
  return log;
}

function requirePartition(memory: Memory, topic: string, partition: number): PartitionLog {
  const log = requireTopic(memory, topic).partitions[partition];
  if (!log)
    throw new CebusError("not_found", `topic '${topic}' has no partition ${partition}`, {
      field: "partition",
    });
  return log;
}

function requireSubscription(memory: Memory, name: string): SubscriptionEntry {
  const entry = memory.subscriptions.get(name);
  if (!entry) {
    throw new CebusError("not_found", `subscription '${name}' does not exist; create it first`, {
      field: "subscription",
    });
  }
  return entry;
}

function copyTopic(topic: Topic | undefined): Topic | undefined {
  return topic && clone(TopicSchema, topic);
}

function copySubscription(subscription: Subscription | undefined): Subscription | undefined {
  return subscription && clone(SubscriptionSchema, subscription);
}

function sortedByName<T extends { name: string }>(values: T[]): T[] {
  return values.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
