import { create, fromBinary } from "@bufbuild/protobuf";
import { attributeString, CebusError, msToTimestamp, stringAttribute } from "@cebus/core";
import {
  type CloudEvent,
  CloudEvent_CloudEventAttributeValueSchema,
  CloudEventSchema,
  type DeadLetter,
  DeadLetterSchema,
  type Subscription,
} from "@cebus/proto";
import type { DeadLetterAppend, LeaseRef, Store } from "@cebus/store";
import type { ConsumerRegistry } from "./consumer-registry.js";
import type { BrokerContext } from "./context.js";
import { refOf, requireSubscription, requireTopic } from "./lookup.js";
import type { Publisher } from "./publish.js";

const page = 500;

/** Walks a subscription's dead-letter topic, oldest first per partition, yielding its dead letters. */
async function* deadLettersOf(store: Store, subscription: Subscription): AsyncGenerator<DeadLetter> {
  if (subscription.deadLetterTopic === "") {
    throw new CebusError(
      "failed_precondition",
      `subscription '${subscription.name}' has no dead-letter topic, so it keeps no failed events; a subscription cannot be changed: to keep them, create a new subscription with dead_letter_topic set`,
    );
  }
  for (const partition of await store.partitionStats(subscription.deadLetterTopic)) {
    let from = partition.startOffset;
    for (;;) {
      const records = await store.read(subscription.deadLetterTopic, partition.partition, from, page);
      for (const record of records) {
        const event = fromBinary(CloudEventSchema, record.data);
        if (attributeString(event, "originalsubscription") !== subscription.name) continue;
        yield create(DeadLetterSchema, {
          partition: record.partition,
          offset: BigInt(record.offset),
          event,
          deadLetterTime: msToTimestamp(record.publishTime),
          reason: attributeString(event, "deadletterreason") ?? "",
          attempts: Number(attributeString(event, "deliveryattempts") ?? 0),
        });
      }
      const last = records[records.length - 1];
      if (!last || records.length < page) break;
      from = last.offset + 1;
    }
  }
}

export async function listDeadLetters(
  store: Store,
  subscription: Subscription,
  limit: number,
): Promise<DeadLetter[]> {
  const out: DeadLetter[] = [];
  for await (const deadLetter of deadLettersOf(store, subscription)) {
    out.push(deadLetter);
    if (out.length >= limit) break;
  }
  return out;
}

/** Requeues dead-lettered events (all, or those with the given ids) on their original subscription only. */
export async function redriveDeadLetters(
  store: Store,
  subscription: Subscription,
  ids: string[],
  now: number,
): Promise<number> {
  const wanted = ids.length > 0 ? new Set(ids) : undefined;
  const targets: { partition: number; offset: number }[] = [];
  for await (const deadLetter of deadLettersOf(store, subscription)) {
    const event = deadLetter.event;
    if (!event || (wanted && !wanted.has(event.id))) continue;
    const partition = Number(attributeString(event, "originalpartition"));
    const offset = Number(attributeString(event, "originaloffset"));
    if (Number.isInteger(partition) && Number.isInteger(offset)) targets.push({ partition, offset });
  }
  return targets.length === 0 ? 0 : store.requeue(refOf(subscription), targets, now);
}

/** An event to move to the dead-letter topic: the lease it was delivered with, and after how many attempts. */
export interface Failed {
  event: CloudEvent;
  lease: LeaseRef;
  attempts: number;
}

/** Moving failed events to a subscription's dead-letter topic, listing them there, and redriving them. */
export interface DeadLetters {
  /**
   * Ends the leases of failed events and appends their copies to the subscription's dead-letter topic (if any), in
   * one atomic store step: a lease that no longer matches moves nothing. Returns, per event, whether it matched.
   */
  terminate(subscription: Subscription, failed: Failed[], reason: string): Promise<boolean[]>;
  list(subscription: string, limit?: number): Promise<DeadLetter[]>;
  /** Delivers dead-lettered events again to their original subscription only; returns how many. */
  redrive(subscription: string, eventIds?: string[]): Promise<number>;
}

interface DeadLetterParts {
  readonly ctx: BrokerContext;
  readonly publisher: Publisher;
  readonly registry: ConsumerRegistry;
}

const integerAttribute = (value: number) =>
  create(CloudEvent_CloudEventAttributeValueSchema, { attr: { case: "ceInteger", value } });

/** The copy of an event that goes to the dead-letter topic: where it came from, why, after how many attempts. */
function deadLetterEvent(subscription: Subscription, failed: Failed, reason: string): CloudEvent {
  const { event, lease } = failed;
  const dead = create(CloudEventSchema, event);
  dead.attributes = { ...event.attributes };
  delete dead.attributes.sequence;
  dead.attributes.deadletterreason = stringAttribute(reason);
  dead.attributes.deliveryattempts = integerAttribute(failed.attempts);
  dead.attributes.originaltopic = stringAttribute(subscription.topic);
  dead.attributes.originalsubscription = stringAttribute(subscription.name);
  dead.attributes.originalpartition = integerAttribute(lease.partition);
  dead.attributes.originaloffset = stringAttribute(String(lease.offset));
  return dead;
}

/** The dead-letter copies as the store appends them, or undefined when the subscription keeps no dead letters. */
async function deadLetterAppend(
  parts: DeadLetterParts,
  subscription: Subscription,
  failed: Failed[],
  reason: string,
): Promise<DeadLetterAppend | undefined> {
  if (subscription.deadLetterTopic === "") return undefined;
  const target = await requireTopic(parts.ctx.store, subscription.deadLetterTopic);
  const copies = failed.map((item) => deadLetterEvent(subscription, item, reason));
  return { topic: target.name, events: parts.publisher.prepare(target, copies) };
}

async function terminate(
  parts: DeadLetterParts,
  subscription: Subscription,
  failed: Failed[],
  reason: string,
): Promise<boolean[]> {
  if (failed.length === 0) return [];
  const { ctx } = parts;
  const deadLetter = await deadLetterAppend(parts, subscription, failed, reason);
  const leases = failed.map((item) => item.lease);
  const matches = await ctx.store.settle(refOf(subscription), {
    kind: "term",
    leases,
    now: ctx.now(),
    ...(deadLetter ? { deadLetter } : {}),
  });
  if (deadLetter && matches.some(Boolean)) {
    const partitions = deadLetter.events.filter((_, i) => matches[i]).map((event) => event.partition);
    parts.registry.wakeTopic(deadLetter.topic, partitions);
  }
  failed.forEach((item, i) => {
    if (!matches[i]) return;
    const { partition, offset } = item.lease;
    const logged = {
      subscription: subscription.name,
      partition,
      offset,
      reason,
      deadLetterTopic: deadLetter?.topic,
    };
    ctx.logger.info(logged, "event dead-lettered");
  });
  return matches;
}

async function redrive(parts: DeadLetterParts, name: string, eventIds: string[]): Promise<number> {
  const { ctx } = parts;
  const subscription = await requireSubscription(ctx.store, name);
  const count = await redriveDeadLetters(ctx.store, subscription, eventIds, ctx.now());
  parts.registry.wakeTopic(subscription.topic);
  ctx.logger.info({ subscription: name, redriven: count }, "dead letters redriven");
  return count;
}

export function createDeadLetters(
  ctx: BrokerContext,
  publisher: Publisher,
  registry: ConsumerRegistry,
): DeadLetters {
  const parts: DeadLetterParts = { ctx, publisher, registry };
  return {
    terminate: (subscription, failed, reason) => terminate(parts, subscription, failed, reason),
    list: async (name, limit = 100) =>
      listDeadLetters(ctx.store, await requireSubscription(ctx.store, name), limit || 100),
    redrive: (name, eventIds = []) => redrive(parts, name, eventIds),
  };
}
