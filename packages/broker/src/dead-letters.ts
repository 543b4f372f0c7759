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
import type { LeaseRef, Store } from "@cebus/store";
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

/** Moving failed events to a subscription's dead-letter topic, listing them there, and redriving them. */
export interface DeadLetters {
  /** Moves an event to the subscription's dead-letter topic (if any) and ends its lease. */
  deadLetter(
    subscription: Subscription,
    event: CloudEvent,
    lease: LeaseRef,
    attempts: number,
    reason: string,
  ): Promise<void>;
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
function deadLetterEvent(
  subscription: Subscription,
  event: CloudEvent,
  lease: LeaseRef,
  attempts: number,
  reason: string,
): CloudEvent {
  const dead = create(CloudEventSchema, event);
  dead.attributes = { ...event.attributes };
  delete dead.attributes.sequence;
  dead.attributes.deadletterreason = stringAttribute(reason);
  dead.attributes.deliveryattempts = integerAttribute(attempts);
  dead.attributes.originaltopic = stringAttribute(subscription.topic);
  dead.attributes.originalsubscription = stringAttribute(subscription.name);
  dead.attributes.originalpartition = integerAttribute(lease.partition);
  dead.attributes.originaloffset = stringAttribute(String(lease.offset));
  return dead;
}

async function deadLetter(
  parts: DeadLetterParts,
  subscription: Subscription,
  event: CloudEvent,
  lease: LeaseRef,
  attempts: number,
  reason: string,
): Promise<void> {
  const { ctx } = parts;
  const target = subscription.deadLetterTopic;
  if (target !== "") {
    const dead = deadLetterEvent(subscription, event, lease, attempts, reason);
    // A dead-lettered event keeps its (source, id): dedupe must not swallow it, so append without dedupe.
    await parts.publisher.append(await requireTopic(ctx.store, target), [dead], false);
  }
  await ctx.store.settle(refOf(subscription), { kind: "term", leases: [lease], now: ctx.now() });
  ctx.logger.info(
    {
      subscription: subscription.name,
      partition: lease.partition,
      offset: lease.offset,
      reason,
      deadLetterTopic: target || undefined,
    },
    "event dead-lettered",
  );
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
    deadLetter: (subscription, event, lease, attempts, reason) =>
      deadLetter(parts, subscription, event, lease, attempts, reason),
    list: async (name, limit = 100) =>
      listDeadLetters(ctx.store, await requireSubscription(ctx.store, name), limit || 100),
    redrive: (name, eventIds = []) => redrive(parts, name, eventIds),
  };
}
