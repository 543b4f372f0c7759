import { randomUUID } from "node:crypto";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  CebusError,
  durationMs,
  msToDuration,
  msToTimestamp,
  partitionForKey,
  partitionKey,
  stringAttribute,
  timestampMs,
  validateEvent,
  validateName,
} from "@cebus/core";
import {
  type CloudEvent,
  CloudEvent_CloudEventAttributeValueSchema,
  CloudEventSchema,
  type DeadLetter,
  DeliveryMode,
  type Position,
  type PublishResult,
  PublishResultSchema,
  type Subscription,
  type SubscriptionStats,
  SubscriptionStatsSchema,
  type Topic,
  type TopicRecord,
  TopicRecordSchema,
  type TopicStats,
  TopicStatsSchema,
} from "@cebus/proto";
import type { LeaseRef, Store } from "@cebus/store";
import { retryDelay } from "./backoff.js";
import { type Consumer, createConsumer, type FlowWindow } from "./consumer.js";
import type { DeliveryOwner, EngineContext } from "./context.js";
import { listDeadLetters, redriveDeadLetters } from "./dead-letters.js";
import {
  type BrokerLimits,
  defaultLimits,
  normalizeSubscription,
  normalizeTopic,
  settingDifferences,
} from "./defaults.js";
import { isAtMostOnceToken, parseDeliveryId } from "./delivery-id.js";
import { type Logger, silentLogger } from "./logger.js";
import { createRecentAcks } from "./recent-acks.js";

export interface BrokerOptions {
  store: Store;
  logger?: Logger;
  limits?: Partial<BrokerLimits>;
  /** How often idle consumers look for work other broker processes made visible [1000 ms]. */
  pollIntervalMs?: number;
  /**
   * The longest an idle consumer goes without looking at the store [30 s]. Publishes through this broker, nacks,
   * and lease deadlines wake consumers at once; the poll only finds work done by other broker processes on a
   * shared store and leases left by a previous run.
   */
  maxPollIntervalMs?: number;
  /** How often retention runs [60 s]; 0 turns the timer off (applyRetention still works). */
  retentionIntervalMs?: number;
  /** The clock, injectable for tests. */
  now?: () => number;
}

export type SettleKind = "ack" | "nack" | "extend" | "term";

export interface SettleOptions {
  /** nack: redeliver after this delay instead of the subscription's backoff. */
  delayMs?: number;
  /** extend: new deadline = now + this, instead of the subscription's ack deadline. */
  extensionMs?: number;
  /** term: why, recorded as `deadletterreason`. */
  reason?: string;
  /** Change nothing unless every delivery id is current. */
  allOrNothing?: boolean;
}

/** The result of settling one delivery id. */
export interface SettleOutcome {
  deliveryId: string;
  ok: boolean;
  /** Set when not ok. */
  error?: CebusError;
  /** extend: the new deadline. */
  deadline?: number;
}

export interface ConsumerRequest {
  subscription: string;
  flow?: Partial<FlowWindow>;
  name?: string;
}

/** The broker engine: topics, subscriptions, publishing and delivery over one store. */
export interface Broker {
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
  seek(subscription: string, position: Position | undefined): Promise<void>;
  /** Appends a batch of events, all or nothing; results in input order. */
  publish(topic: string, events: CloudEvent[]): Promise<PublishResult[]>;
  openConsumer(request: ConsumerRequest): Promise<Consumer>;
  /**
   * Closes a consumer of this process cleanly (what a Receive client asks for when it stops): its unsettled events
   * are released for redelivery at once. Returns how many; not_found when no such consumer is open here.
   */
  endConsumer(subscription: string, consumerId: string): Promise<number>;
  /** Reads a range of one partition without a subscription; below the oldest retained offset is out_of_range. */
  readTopic(
    topic: string,
    partition: number,
    fromOffset: number,
    limit: number,
  ): Promise<{ records: TopicRecord[]; nextOffset: number }>;
  listDeadLetters(subscription: string, limit?: number): Promise<DeadLetter[]>;
  /** Delivers dead-lettered events again to their original subscription only; returns how many. */
  redriveDeadLetters(subscription: string, eventIds?: string[]): Promise<number>;
  /** Applies every topic's retention now (the broker also does it on a timer). Returns events removed. */
  applyRetention(): Promise<number>;
  /** Settles deliveries of a subscription, from any consumer on any broker process over the same store. */
  settle(
    subscription: string,
    kind: SettleKind,
    deliveryIds: string[],
    options?: SettleOptions,
  ): Promise<SettleOutcome[]>;
  /** False once draining or closing. */
  ready(): boolean;
  /**
   * Graceful shutdown, first half: refuses new consumers and ends every consumer stream, keeping their leases
   * until the ack deadline (the store holds them, so acks sent to a restarted broker still count).
   */
  drain(): Promise<void>;
  /** Drains, then closes the store. */
  close(): Promise<void>;
}

const integerAttribute = (value: number) =>
  create(CloudEvent_CloudEventAttributeValueSchema, { attr: { case: "ceInteger", value } });

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

export function createBroker(options: BrokerOptions): Broker {
  const store = options.store;
  const limits: BrokerLimits = { ...defaultLimits, ...options.limits };
  const logger = options.logger ?? silentLogger;
  const now = options.now ?? Date.now;
  const consumersByTopic = new Map<string, Set<Consumer & DeliveryOwner>>();
  const owners = new Map<string, DeliveryOwner>();
  const roundRobin = new Map<string, number>();
  const wakeTimers = new Set<NodeJS.Timeout>();
  let closing = false;
  let closed = false;

  const notFoundTopic = (name: string) =>
    new CebusError(
      "not_found",
      `topic '${name}' does not exist; create it first (AdminService.CreateTopic)`,
      {
        field: "topic",
      },
    );
  const notFoundSubscription = (name: string) =>
    new CebusError(
      "not_found",
      `subscription '${name}' does not exist; create it first (AdminService.CreateSubscription)`,
      { field: "subscription" },
    );

  async function requireTopic(name: string): Promise<Topic> {
    validateName("topic", name, "topic");
    const topic = await store.getTopic(name);
    if (!topic) throw notFoundTopic(name);
    return topic;
  }

  async function requireSubscription(name: string): Promise<Subscription> {
    validateName("subscription", name, "subscription");
    const subscription = await store.getSubscription(name);
    if (!subscription) throw notFoundSubscription(name);
    return subscription;
  }

  function wakeTopic(topic: string): void {
    for (const consumer of consumersByTopic.get(topic) ?? []) consumer.wake();
  }

  function wakeSubscriptionAt(subscription: string, topic: string, at: number): void {
    const timer = setTimeout(
      () => {
        wakeTimers.delete(timer);
        for (const consumer of consumersByTopic.get(topic) ?? []) {
          if (consumer.subscriptionName === subscription) consumer.wake();
        }
      },
      Math.max(0, at - now() + 1),
    );
    timer.unref?.();
    wakeTimers.add(timer);
  }

  async function endConsumers(
    predicate: (consumer: Consumer & DeliveryOwner) => boolean,
    release = true,
  ): Promise<void> {
    const ending: Promise<number>[] = [];
    for (const set of consumersByTopic.values()) {
      for (const consumer of set) if (predicate(consumer)) ending.push(consumer.close({ release }));
    }
    await Promise.all(ending);
  }

  /** Resolves a position to one cursor per partition. */
  async function cursorsFor(topic: Topic, position: Position | undefined, field: string): Promise<number[]> {
    const stats = await store.partitionStats(topic.name);
    const p = position?.position;
    switch (p?.case) {
      case "earliest":
        return stats.map((s) => s.startOffset);
      case undefined:
      case "latest":
        return stats.map((s) => s.endOffset);
      case "time": {
        const time = timestampMs(p.value);
        return Promise.all(stats.map((s) => store.offsetForTime(topic.name, s.partition, time)));
      }
      case "offsets": {
        const cursors = stats.map((s) => s.startOffset);
        for (const { partition, offset: wanted } of p.value.offsets) {
          const offset = Number(wanted);
          const s = stats[partition];
          if (!s) {
            throw new CebusError(
              "invalid_argument",
              `${field}.offsets names partition ${partition} but topic '${topic.name}' has ${stats.length}; use 0 to ${stats.length - 1}`,
              { field },
            );
          }
          if (offset < s.startOffset || offset > s.endOffset) {
            throw new CebusError(
              "out_of_range",
              `${field}: offset ${offset} of partition ${partition} is outside ${s.startOffset}..${s.endOffset} (retained events and the end); pick an offset in that range`,
              { field },
            );
          }
          cursors[partition] = offset;
        }
        return cursors;
      }
    }
  }

  const ctx: EngineContext = {
    store,
    limits,
    logger,
    pollIntervalMs: options.pollIntervalMs ?? 1000,
    // On a shared store another broker may die holding leases: nobody wakes us when they expire, so poll more.
    maxPollIntervalMs: Math.max(
      options.pollIntervalMs ?? 1000,
      options.maxPollIntervalMs ?? (store.watch ? 2000 : 30_000),
    ),
    now,
    wakeSubscriptionAt: (subscription, topic, at) => wakeSubscriptionAt(subscription, topic, at),
    track(deliveryId, owner) {
      owners.set(deliveryId, owner);
    },
    untrack(deliveryId) {
      owners.delete(deliveryId);
    },
    detach(consumer) {
      const set = consumersByTopic.get(consumer.topicName);
      set?.delete(consumer as Consumer & DeliveryOwner);
      if (set?.size === 0) consumersByTopic.delete(consumer.topicName);
    },
    async deadLetter(subscription, event, lease, attempts, reason) {
      const target = subscription.deadLetterTopic;
      if (target !== "") {
        const dead = create(CloudEventSchema, event);
        dead.attributes = { ...event.attributes };
        delete dead.attributes.sequence;
        dead.attributes.deadletterreason = stringAttribute(reason);
        dead.attributes.deliveryattempts = integerAttribute(attempts);
        dead.attributes.originaltopic = stringAttribute(subscription.topic);
        dead.attributes.originalsubscription = stringAttribute(subscription.name);
        dead.attributes.originalpartition = integerAttribute(lease.partition);
        dead.attributes.originaloffset = stringAttribute(String(lease.offset));
        // A dead-lettered event keeps its (source, id): dedupe must not swallow it, so append without dedupe.
        await append(await requireTopic(target), [dead], false);
      }
      await store.settle(subscription.name, { kind: "term", leases: [lease], now: now() });
      logger.info(
        {
          subscription: subscription.name,
          partition: lease.partition,
          offset: lease.offset,
          reason,
          deadLetterTopic: target || undefined,
        },
        "event dead-lettered",
      );
    },
  };

  async function append(topic: Topic, events: CloudEvent[], dedupe: boolean): Promise<PublishResult[]> {
    const partitions = Math.max(1, topic.partitions);
    const inputs = events.map((event, i) => {
      const data = toBinary(CloudEventSchema, event);
      if (data.byteLength > topic.maxEventBytes) {
        throw new CebusError(
          "invalid_argument",
          `events[${i}] (id '${event.id}') is ${data.byteLength} bytes; topic '${topic.name}' accepts at most ${topic.maxEventBytes}; make data smaller or raise the topic's max_event_bytes`,
          { field: `events[${i}]` },
        );
      }
      const key = partitionKey(event);
      let partition: number;
      if (key !== undefined) partition = partitionForKey(key, partitions);
      else {
        const next = roundRobin.get(topic.name) ?? 0;
        roundRobin.set(topic.name, next + 1);
        partition = next % partitions;
      }
      return { partition, source: event.source, id: event.id, key, data };
    });
    const at = now();
    const dedupeSince = dedupe ? at - durationMs(topic.dedupeWindow, limits.defaultDedupeWindowMs) : at + 1;
    const results = await store.append(topic.name, inputs, { now: at, dedupeSince });
    wakeTopic(topic.name);
    return results.map((r) =>
      create(PublishResultSchema, {
        partition: r.partition,
        offset: BigInt(r.offset),
        duplicate: r.duplicate,
      }),
    );
  }

  const recentAcks = createRecentAcks();

  async function settleOne(
    subscription: Subscription,
    kind: SettleKind,
    ids: string[],
    opts: SettleOptions,
  ): Promise<SettleOutcome[]> {
    const at = now();
    const outcomes: SettleOutcome[] = ids.map((deliveryId) => ({ deliveryId, ok: false }));
    const refs: { index: number; ref: LeaseRef }[] = [];
    ids.forEach((id, index) => {
      const ref = parseDeliveryId(id);
      const outcome = outcomes[index] as SettleOutcome;
      if (!ref) {
        outcome.error = new CebusError(
          "invalid_argument",
          `delivery id '${id}' is malformed; pass the delivery_id of a received delivery`,
          {
            field: "delivery_ids",
          },
        );
      } else if (isAtMostOnceToken(ref.token)) {
        outcome.ok = true; // at-most-once deliveries were acked when sent; settling only returns credit
      } else if (kind === "ack" && recentAcks.has(subscription.name, id)) {
        outcome.ok = true; // a repeated ack (a resent request) of an ack this process applied
      } else {
        refs.push({ index, ref });
      }
    });
    if (opts.allOrNothing && outcomes.some((o) => o.error)) return outcomes;
    const leaseMs = durationMs(subscription.ackDeadline, limits.defaultAckDeadlineMs);
    if (refs.length > 0) {
      if (kind === "nack") {
        // Backoff depends on each delivery's attempt, so nacks without a delay are settled one by one.
        const groups = new Map<number, { index: number; ref: LeaseRef }[]>();
        for (const item of refs) {
          const attempt = owners.get(ids[item.index] as string)?.attemptOf(ids[item.index] as string) ?? 1;
          const until = at + (opts.delayMs ?? retryDelay(subscription.retryPolicy, attempt));
          groups.set(until, [...(groups.get(until) ?? []), item]);
        }
        const all = await Promise.all(
          [...groups].map(async ([until, items]) => {
            const ok = await store.settle(subscription.name, {
              kind: "nack",
              leases: items.map((i) => i.ref),
              now: at,
              until,
              allOrNothing: opts.allOrNothing,
            });
            if (ok.some(Boolean)) wakeSubscriptionAt(subscription.name, subscription.topic, until);
            return items.map((item, j) => ({ index: item.index, ok: ok[j] === true }));
          }),
        );
        for (const { index, ok } of all.flat()) (outcomes[index] as SettleOutcome).ok = ok;
      } else if (kind === "term") {
        // Each terminated event is read back and moved to the dead-letter topic; the lease is checked first (by
        // extending it) so a stale delivery id moves nothing.
        const ok = await Promise.all(
          refs.map(async ({ index, ref }) => {
            const [stored] = await store.read(subscription.topic, ref.partition, ref.offset, 1);
            if (stored?.offset !== ref.offset) return false;
            const [held] = await store.settle(subscription.name, {
              kind: "extend",
              leases: [ref],
              now: at,
              until: at + leaseMs,
            });
            if (!held) return false;
            const id = ids[index] as string;
            const attempt = owners.get(id)?.attemptOf(id) ?? 1;
            const event = fromBinary(CloudEventSchema, stored.data);
            await ctx.deadLetter(subscription, event, ref, attempt, opts.reason || "terminated by consumer");
            return true;
          }),
        );
        refs.forEach(({ index }, j) => {
          (outcomes[index] as SettleOutcome).ok = ok[j] === true;
        });
      } else {
        const until = kind === "extend" ? at + (opts.extensionMs ?? leaseMs) : undefined;
        const ok = await store.settle(subscription.name, {
          kind,
          leases: refs.map((r) => r.ref),
          now: at,
          until,
          allOrNothing: opts.allOrNothing,
        });
        refs.forEach(({ index }, j) => {
          const outcome = outcomes[index] as SettleOutcome;
          outcome.ok = ok[j] === true;
          if (outcome.ok && until !== undefined) outcome.deadline = until;
        });
      }
    }
    if (opts.allOrNothing && outcomes.some((o) => !o.ok)) {
      for (const outcome of outcomes) {
        if (!outcome.ok) continue;
        outcome.ok = false;
        outcome.error = new CebusError(
          "aborted",
          `delivery '${outcome.deliveryId}' was not settled because others in the same call failed; nothing in the call was applied, retry it without the failed ids`,
          { field: "delivery_ids" },
        );
      }
    }
    for (const outcome of outcomes) {
      if (outcome.ok) {
        if (kind === "ack") recentAcks.add(subscription.name, outcome.deliveryId);
        owners.get(outcome.deliveryId)?.settled(outcome.deliveryId, outcome.deadline);
      } else if (!outcome.error) {
        outcome.error = new CebusError(
          "failed_precondition",
          `delivery '${outcome.deliveryId}' of subscription '${subscription.name}' is unknown, already settled or its lease expired (it will be or was redelivered); settle the newest delivery of that event instead`,
          { field: "delivery_ids" },
        );
      }
    }
    return outcomes;
  }

  // Changes made through other broker processes on a shared store wake our consumers too.
  const unwatch = store.watch?.((change) => {
    if (closing) return;
    if (change.subscription !== undefined)
      wakeSubscriptionAt(change.subscription, change.topic, change.at ?? now());
    else wakeTopic(change.topic);
  });

  const broker: Broker = {
    async createTopic(input, opts = {}) {
      const topic = normalizeTopic(input, limits, now());
      if (await store.createTopic(topic)) {
        logger.info({ topic: topic.name, partitions: topic.partitions }, "topic created");
        return topic;
      }
      const existing = (await store.getTopic(topic.name)) as Topic;
      const differences = settingDifferences(existing, topic);
      if (opts.ifNotExists && differences.length === 0) return existing;
      throw alreadyExists(`topic '${topic.name}'`, differences, opts.ifNotExists, "topic.name");
    },
    getTopic: requireTopic,
    listTopics: () => store.listTopics(),
    async deleteTopic(name, opts = {}) {
      await requireTopic(name);
      const subscriptions = await store.listSubscriptions(name);
      if (subscriptions.length > 0 && !opts.force) {
        throw new CebusError(
          "failed_precondition",
          `topic '${name}' has subscriptions (${subscriptions.map((s) => s.name).join(", ")}); delete them first, or set force to delete them too`,
        );
      }
      for (const subscription of subscriptions) await broker.deleteSubscription(subscription.name);
      await store.deleteTopic(name);
      logger.info({ topic: name }, "topic deleted");
    },
    async topicStats(name) {
      await requireTopic(name);
      const partitions = await store.partitionStats(name);
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
    },
    async createSubscription(input, opts = {}) {
      const subscription = normalizeSubscription(input, limits, now());
      const topic = await store.getTopic(subscription.topic);
      if (!topic) {
        throw new CebusError(
          "not_found",
          `subscription.topic '${subscription.topic}' does not exist; create the topic first (AdminService.CreateTopic)`,
          { field: "subscription.topic" },
        );
      }
      if (subscription.deadLetterTopic !== "" && !(await store.getTopic(subscription.deadLetterTopic))) {
        throw new CebusError(
          "not_found",
          `subscription.dead_letter_topic '${subscription.deadLetterTopic}' does not exist; create that topic first (AdminService.CreateTopic)`,
          { field: "subscription.dead_letter_topic" },
        );
      }
      const cursors = await cursorsFor(topic, subscription.startPosition, "subscription.start_position");
      if (await store.createSubscription(subscription, cursors)) {
        logger.info({ subscription: subscription.name, topic: topic.name }, "subscription created");
        return subscription;
      }
      const existing = (await store.getSubscription(subscription.name)) as Subscription;
      const differences = settingDifferences(existing, subscription);
      if (opts.ifNotExists && differences.length === 0) return existing;
      throw alreadyExists(
        `subscription '${subscription.name}'`,
        differences,
        opts.ifNotExists,
        "subscription.name",
      );
    },
    getSubscription: requireSubscription,
    listSubscriptions: (topic) => store.listSubscriptions(topic || undefined),
    async deleteSubscription(name) {
      await requireSubscription(name);
      await endConsumers((c) => c.subscriptionName === name);
      await store.deleteSubscription(name);
      logger.info({ subscription: name }, "subscription deleted");
    },
    async subscriptionStats(name) {
      await requireSubscription(name);
      const at = now();
      const counts = await store.subscriptionStats(name, at);
      let consumers = 0;
      for (const set of consumersByTopic.values())
        for (const c of set) if (c.subscriptionName === name) consumers++;
      return create(SubscriptionStatsSchema, {
        subscription: name,
        backlog: BigInt(counts.backlog),
        inFlight: BigInt(counts.inFlight),
        oldestUnackedAge:
          counts.oldestUnackedPublishTime === undefined
            ? undefined
            : msToDuration(Math.max(0, at - counts.oldestUnackedPublishTime)),
        consumers,
      });
    },
    async seek(name, position) {
      const subscription = await requireSubscription(name);
      const topic = await requireTopic(subscription.topic);
      if (!position || position.position.case === undefined) {
        throw new CebusError(
          "invalid_argument",
          "position is missing; give earliest, latest, offsets or time",
          { field: "position" },
        );
      }
      const cursors = await cursorsFor(topic, position, "position");
      for (const [id, owner] of owners) if (owner.subscriptionName === name) owner.settled(id);
      await store.seek(name, cursors);
      wakeTopic(topic.name);
      logger.info({ subscription: name, position: position.position.case }, "subscription moved");
    },
    async publish(topicName, events) {
      if (closing)
        throw new CebusError(
          "unavailable",
          "the broker is shutting down; retry against another broker process",
        );
      const topic = await requireTopic(topicName);
      if (events.length === 0)
        throw new CebusError("invalid_argument", "events is empty; send at least one event", {
          field: "events",
        });
      if (events.length > limits.maxEventsPerPublish) {
        throw new CebusError(
          "invalid_argument",
          `events has ${events.length} events; send at most ${limits.maxEventsPerPublish} per call`,
          { field: "events" },
        );
      }
      for (const [i, event] of events.entries()) validateEvent(event, `events[${i}]`);
      return append(topic, events, true);
    },
    async openConsumer(request) {
      if (closing)
        throw new CebusError(
          "unavailable",
          "the broker is shutting down; reconnect to another broker process",
        );
      const subscription = await requireSubscription(request.subscription);
      const topic = await requireTopic(subscription.topic);
      const flow: FlowWindow = {
        maxEvents: request.flow?.maxEvents || limits.defaultMaxOutstandingEvents,
        maxBytes: request.flow?.maxBytes || limits.defaultMaxOutstandingBytes,
      };
      const consumer = createConsumer(ctx, {
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
    },
    async endConsumer(subscriptionName, consumerId) {
      const subscription = await requireSubscription(subscriptionName);
      for (const consumer of consumersByTopic.get(subscription.topic) ?? []) {
        if (consumer.id === consumerId && consumer.subscriptionName === subscription.name)
          return consumer.close();
      }
      throw new CebusError(
        "not_found",
        `no consumer ${consumerId} of subscription ${subscription.name} is open on this broker process (it ended already, or another process serves it); its unsettled events return at their ack deadline`,
        { field: "consumer_id" },
      );
    },
    async settle(subscriptionName, kind, deliveryIds, opts = {}) {
      const subscription = await requireSubscription(subscriptionName);
      if (deliveryIds.length === 0) {
        throw new CebusError(
          "invalid_argument",
          "delivery_ids is empty; pass the delivery_id of each delivery to settle",
          {
            field: "delivery_ids",
          },
        );
      }
      if (subscription.deliveryMode === DeliveryMode.AT_MOST_ONCE && kind !== "ack") {
        // Nothing to redeliver or dead-letter: the events counted as acked when sent.
      }
      return settleOne(subscription, kind, deliveryIds, opts);
    },
    async readTopic(topicName, partition, fromOffset, limit) {
      await requireTopic(topicName);
      const stats = await store.partitionStats(topicName);
      const p = stats[partition];
      if (!p) {
        throw new CebusError(
          "invalid_argument",
          `partition ${partition} does not exist; topic '${topicName}' has partitions 0 to ${stats.length - 1}`,
          {
            field: "partition",
          },
        );
      }
      if (fromOffset < p.startOffset || fromOffset > p.endOffset) {
        throw new CebusError(
          "out_of_range",
          `offset ${fromOffset} of topic '${topicName}' partition ${partition} is outside ${p.startOffset}..${p.endOffset} (the oldest retained offset to the end); read from an offset in that range`,
          { field: "from_offset" },
        );
      }
      const stored = await store.read(
        topicName,
        partition,
        fromOffset,
        Math.min(Math.max(limit || 100, 1), 1000),
      );
      const records = stored.map((r) =>
        create(TopicRecordSchema, {
          partition: r.partition,
          offset: BigInt(r.offset),
          event: fromBinary(CloudEventSchema, r.data),
          publishTime: msToTimestamp(r.publishTime),
        }),
      );
      const last = stored[stored.length - 1];
      return { records, nextOffset: last ? last.offset + 1 : fromOffset };
    },
    async listDeadLetters(name, limit = 100) {
      return listDeadLetters(store, await requireSubscription(name), limit || 100);
    },
    async redriveDeadLetters(name, eventIds = []) {
      const subscription = await requireSubscription(name);
      const count = await redriveDeadLetters(store, subscription, eventIds, now());
      wakeTopic(subscription.topic);
      logger.info({ subscription: name, redriven: count }, "dead letters redriven");
      return count;
    },
    async applyRetention() {
      let removed = 0;
      const at = now();
      for (const topic of await store.listTopics()) {
        removed += await store.trim(topic.name, {
          olderThan: at - durationMs(topic.retention, limits.defaultRetentionMs),
          maxBytes: Number(topic.retentionBytes),
          dedupeBefore: at - durationMs(topic.dedupeWindow, limits.defaultDedupeWindowMs),
        });
      }
      if (removed > 0) logger.info({ removed }, "retention removed events");
      return removed;
    },
    ready: () => !closing && (store.healthy?.() ?? true),
    async drain() {
      closing = true;
      await endConsumers(() => true, false);
    },
    async close() {
      if (closed) return;
      closed = true;
      await broker.drain();
      unwatch?.();
      if (retentionTimer) clearInterval(retentionTimer);
      for (const timer of wakeTimers) clearTimeout(timer);
      await store.close();
    },
  };
  const retentionEvery = options.retentionIntervalMs ?? 60_000;
  const retentionTimer =
    retentionEvery > 0
      ? setInterval(() => {
          broker
            .applyRetention()
            .catch((error: unknown) =>
              logger.warn({ err: error }, "retention failed; retrying at the next interval"),
            );
        }, retentionEvery)
      : undefined;
  retentionTimer?.unref();
  return broker;
}
