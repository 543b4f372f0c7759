import { create, toBinary } from "@bufbuild/protobuf";
import { CebusError, durationMs, partitionForKey, partitionKey, validateEvent } from "@cebus/core";
import {
  type CloudEvent,
  CloudEventSchema,
  type PublishResult,
  PublishResultSchema,
  type Topic,
} from "@cebus/proto";
import type { AppendEvent, AppendResult } from "@cebus/store";
import type { ConsumerRegistry } from "./consumer-registry.js";
import type { BrokerContext } from "./context.js";

/** The publish path: checks a batch, picks partitions, appends within the dedupe window and wakes consumers. */
export interface Publisher {
  /** Appends a batch of events, all or nothing; results in input order. */
  publish(topic: string, events: CloudEvent[]): Promise<PublishResult[]>;
  /** Appends checked events to a topic; `dedupe` false appends even a (source, id) seen within the window. */
  append(topic: Topic, events: CloudEvent[], dedupe: boolean): Promise<PublishResult[]>;
  /** The events as the store appends them to the topic (partition chosen, size checked), for another store step. */
  prepare(topic: Topic, events: CloudEvent[]): AppendEvent[];
}

interface PublishState {
  readonly ctx: BrokerContext;
  readonly registry: ConsumerRegistry;
  /** The next partition, per topic, for events without a partition key. */
  readonly roundRobin: Map<string, number>;
  /** Bytes of publishes handed to the store and not answered yet (backpressure). */
  pendingBytes: number;
}

function checkBatch(ctx: BrokerContext, events: CloudEvent[]): void {
  if (events.length === 0)
    throw new CebusError("invalid_argument", "events is empty; send at least one event", {
      field: "events",
    });
  if (events.length > ctx.limits.maxEventsPerPublish) {
    throw new CebusError(
      "invalid_argument",
      `events has ${events.length} events; send at most ${ctx.limits.maxEventsPerPublish} per call`,
      { field: "events" },
    );
  }
  for (const [i, event] of events.entries()) validateEvent(event, `events[${i}]`);
}

/** Keyed events go to their key's partition; the others take turns. */
function choosePartition(state: PublishState, topic: Topic, key: string | undefined): number {
  const partitions = Math.max(1, topic.partitions);
  if (key !== undefined) return partitionForKey(key, partitions);
  const next = state.roundRobin.get(topic.name) ?? 0;
  state.roundRobin.set(topic.name, next + 1);
  return next % partitions;
}

function appendInput(state: PublishState, topic: Topic, event: CloudEvent, i: number): AppendEvent {
  const data = toBinary(CloudEventSchema, event);
  if (data.byteLength > topic.maxEventBytes) {
    throw new CebusError(
      "invalid_argument",
      `events[${i}] (id '${event.id}') is ${data.byteLength} bytes; topic '${topic.name}' accepts at most ${topic.maxEventBytes}; make data smaller or raise the topic's max_event_bytes`,
      { field: `events[${i}]` },
    );
  }
  const key = partitionKey(event);
  const partition = choosePartition(state, topic, key);
  return { partition, source: event.source, id: event.id, key, data };
}

function append(
  state: PublishState,
  topic: Topic,
  events: CloudEvent[],
  dedupe: boolean,
): Promise<PublishResult[]> {
  const inputs = events.map((event, i) => appendInput(state, topic, event, i));
  return appendInputs(state, topic, inputs, dedupe);
}

/**
 * Backpressure on the public publish path: refuses a batch that would take the bytes waiting for the store past
 * the limit (resource_exhausted, with a retry hint), else counts it until the store answers. Internal appends (dead
 * letters) are never refused: the settle that makes them must not fail for load.
 */
async function admitted(state: PublishState, topic: Topic, inputs: AppendEvent[]): Promise<PublishResult[]> {
  const { limits } = state.ctx;
  let bytes = 0;
  for (const input of inputs) bytes += input.data.byteLength;
  if (state.pendingBytes > 0 && state.pendingBytes + bytes > limits.maxPendingPublishBytes) {
    throw new CebusError(
      "resource_exhausted",
      `the broker holds ${kib(state.pendingBytes)} KiB of publishes the store has not stored yet, and this batch would pass its limit (maxPendingPublishBytes, ${kib(limits.maxPendingPublishBytes)} KiB); nothing of it was stored: publish it again after ${limits.pendingRetryAfterMs} ms`,
      { retryAfterMs: limits.pendingRetryAfterMs },
    );
  }
  state.pendingBytes += bytes;
  try {
    return await appendInputs(state, topic, inputs, true);
  } finally {
    state.pendingBytes -= bytes;
  }
}

const kib = (bytes: number) => Math.ceil(bytes / 1024);

async function appendInputs(
  state: PublishState,
  topic: Topic,
  inputs: AppendEvent[],
  dedupe: boolean,
): Promise<PublishResult[]> {
  const { ctx } = state;
  const at = ctx.now();
  const dedupeSince = dedupe ? at - durationMs(topic.dedupeWindow, ctx.limits.defaultDedupeWindowMs) : at + 1;
  const results = await ctx.store.append(topic.name, inputs, { now: at, dedupeSince });
  state.registry.wakeTopic(topic.name, appendedPartitions(results));
  return results.map((r) =>
    create(PublishResultSchema, {
      partition: r.partition,
      offset: BigInt(r.offset),
      duplicate: r.duplicate,
    }),
  );
}

/** The partitions that received new events (duplicates add nothing). */
function appendedPartitions(results: readonly AppendResult[]): number[] {
  const partitions = new Set<number>();
  for (const result of results) if (!result.duplicate) partitions.add(result.partition);
  return [...partitions];
}

async function publish(
  state: PublishState,
  topicName: string,
  events: CloudEvent[],
): Promise<PublishResult[]> {
  const { ctx } = state;
  if (ctx.closing)
    throw new CebusError("unavailable", "the broker is shutting down; retry against another broker process");
  const topic = await ctx.topics.get(topicName);
  checkBatch(ctx, events);
  return admitted(
    state,
    topic,
    events.map((event, i) => appendInput(state, topic, event, i)),
  );
}

export function createPublisher(ctx: BrokerContext, registry: ConsumerRegistry): Publisher {
  const state: PublishState = { ctx, registry, roundRobin: new Map(), pendingBytes: 0 };
  return {
    publish: (topic, events) => publish(state, topic, events),
    append: (topic, events, dedupe) => append(state, topic, events, dedupe),
    prepare: (topic, events) => events.map((event, i) => appendInput(state, topic, event, i)),
  };
}
