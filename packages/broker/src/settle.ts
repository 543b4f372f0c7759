import { fromBinary } from "@bufbuild/protobuf";
import { CebusError, durationMs } from "@cebus/core";
import { CloudEventSchema, type Subscription } from "@cebus/proto";
import { maxWakeInstants, nackUntil, retrySchedule } from "@cebus/store/delivery";
import type { ConsumerRegistry } from "./consumer-registry.js";
import type { BrokerContext } from "./context.js";
import type { DeadLetters, Failed } from "./dead-letters.js";
import { type DeliveryRef, isAtMostOnceToken, leaseOf, parseDeliveryId } from "./delivery-id.js";
import { refOf } from "./lookup.js";
import { createRecentAcks, type RecentAcks } from "./recent-acks.js";

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

/** Settles deliveries of a subscription, from any consumer on any broker process over the same store. */
export interface Settler {
  /** By the subscription's name (unary settles, other processes' deliveries): its config comes from a short cache. */
  settle(
    subscription: string,
    kind: SettleKind,
    deliveryIds: string[],
    options?: SettleOptions,
  ): Promise<SettleOutcome[]>;
  /** For a consumer that holds its subscription (a Consume stream): no lookup. */
  settleFor(
    subscription: Subscription,
    kind: SettleKind,
    deliveryIds: string[],
    options?: SettleOptions,
  ): Promise<SettleOutcome[]>;
}

interface SettleParts {
  readonly ctx: BrokerContext;
  readonly registry: ConsumerRegistry;
  readonly deadLetters: DeadLetters;
  readonly recentAcks: RecentAcks;
}

/** One settle call: what it settles, when, and the outcome of each delivery id (in input order). */
interface SettleCall {
  readonly subscription: Subscription;
  readonly kind: SettleKind;
  readonly ids: string[];
  readonly opts: SettleOptions;
  readonly at: number;
  readonly outcomes: SettleOutcome[];
}

interface IndexedRef {
  index: number;
  ref: DeliveryRef;
}

/** Answers what needs no store (malformed ids, at-most-once tokens, repeated acks); returns the rest. */
function classify(parts: SettleParts, call: SettleCall): IndexedRef[] {
  const refs: IndexedRef[] = [];
  call.ids.forEach((id, index) => {
    const ref = parseDeliveryId(id);
    const outcome = call.outcomes[index] as SettleOutcome;
    if (!ref) {
      outcome.error = new CebusError(
        "invalid_argument",
        `delivery id '${id}' is malformed; pass the delivery_id of a received delivery`,
        { field: "delivery_ids" },
      );
    } else if (isAtMostOnceToken(ref.token)) {
      outcome.ok = true; // at-most-once deliveries were acked when sent; settling only returns credit
    } else if (call.kind === "ack" && parts.recentAcks.has(call.subscription.name, id)) {
      outcome.ok = true; // a repeated ack (a resent request) of an ack this process applied
    } else {
      refs.push({ index, ref });
    }
  });
  return refs;
}

/** The attempt a delivery was made with: from its id, else from its consumer here, else 1. */
function attemptOf(parts: SettleParts, call: SettleCall, item: IndexedRef): number {
  const id = call.ids[item.index] as string;
  return item.ref.attempt ?? parts.registry.ownerOf(id)?.attemptOf(id) ?? 1;
}

/**
 * Nacks: one store call. With a delay, every lease waits it; otherwise each waits the subscription's retry delay
 * of the attempt the store holds for it, and this process wakes its consumers at those instants (shared stores
 * announce them to the other processes).
 */
async function settleNacks(parts: SettleParts, call: SettleCall, refs: IndexedRef[]): Promise<void> {
  const { subscription, opts, at } = call;
  const until = opts.delayMs === undefined ? undefined : at + opts.delayMs;
  const backoff = { subscription: subscription.name, retry: retrySchedule(subscription.retryPolicy) };
  const ok = await parts.ctx.store.settle(refOf(subscription), {
    kind: "nack",
    leases: refs.map((item) => leaseOf(item.ref)),
    now: at,
    ...(until === undefined ? { backoff } : { until }),
    allOrNothing: opts.allOrNothing,
  });
  const instants = new Set<number>();
  refs.forEach((item, j) => {
    (call.outcomes[item.index] as SettleOutcome).ok = ok[j] === true;
    if (!ok[j]) return;
    const lease = { offset: item.ref.offset, attempt: attemptOf(parts, call, item) };
    instants.add(nackUntil({ now: at, until, backoff }, item.ref.partition, lease));
  });
  const sorted = [...instants].sort((a, b) => a - b);
  for (const instant of sorted.slice(0, maxWakeInstants)) {
    parts.registry.wakeSubscriptionAt(subscription.name, subscription.topic, instant);
  }
}

/** Terms: each event is read back, then the leases end and their copies go to the dead-letter topic in one step. */
async function settleTerms(parts: SettleParts, call: SettleCall, refs: IndexedRef[]): Promise<void> {
  const { store } = parts.ctx;
  const { subscription } = call;
  const failed: (Failed & { index: number })[] = [];
  await Promise.all(
    refs.map(async (item) => {
      const { partition, offset } = item.ref;
      const [stored] = await store.read(subscription.topic, partition, offset, 1);
      if (stored?.offset !== offset) return; // no longer retained: nothing to move, the lease cannot match
      const event = fromBinary(CloudEventSchema, stored.data);
      failed.push({
        index: item.index,
        event,
        lease: leaseOf(item.ref),
        attempts: attemptOf(parts, call, item),
      });
    }),
  );
  failed.sort((a, b) => a.index - b.index);
  const matches = await parts.deadLetters.terminate(
    subscription,
    failed,
    call.opts.reason || "terminated by consumer",
  );
  failed.forEach((item, j) => {
    (call.outcomes[item.index] as SettleOutcome).ok = matches[j] === true;
  });
}

/** Acks and extends: one store call for the whole batch. */
async function settleBatch(parts: SettleParts, call: SettleCall, refs: IndexedRef[]): Promise<void> {
  const { kind, at, opts, subscription } = call;
  const leaseMs = durationMs(subscription.ackDeadline, parts.ctx.limits.defaultAckDeadlineMs);
  const until = kind === "extend" ? at + (opts.extensionMs ?? leaseMs) : undefined;
  const ok = await parts.ctx.store.settle(refOf(subscription), {
    kind,
    leases: refs.map((item) => leaseOf(item.ref)),
    now: at,
    until,
    allOrNothing: opts.allOrNothing,
  });
  refs.forEach(({ index }, j) => {
    const outcome = call.outcomes[index] as SettleOutcome;
    outcome.ok = ok[j] === true;
    if (outcome.ok && until !== undefined) outcome.deadline = until;
  });
}

/** All or nothing: when any id failed, the ones that went through count as not applied either. */
function abortRest(outcomes: SettleOutcome[]): void {
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

/** Returns the credit of settled deliveries to their consumers and explains the failures left. */
function finish(parts: SettleParts, call: SettleCall): void {
  const { subscription } = call;
  for (const outcome of call.outcomes) {
    if (outcome.ok) {
      if (call.kind === "ack") parts.recentAcks.add(subscription.name, outcome.deliveryId);
      parts.registry.ownerOf(outcome.deliveryId)?.settled(outcome.deliveryId, outcome.deadline);
    } else if (!outcome.error) {
      outcome.error = new CebusError(
        "failed_precondition",
        `delivery '${outcome.deliveryId}' of subscription '${subscription.name}' is unknown, already settled or its lease expired (it will be or was redelivered); settle the newest delivery of that event instead`,
        { field: "delivery_ids" },
      );
    }
  }
}

async function settleFor(
  parts: SettleParts,
  subscription: Subscription,
  kind: SettleKind,
  ids: string[],
  opts: SettleOptions,
): Promise<SettleOutcome[]> {
  if (ids.length === 0) {
    throw new CebusError(
      "invalid_argument",
      "delivery_ids is empty; pass the delivery_id of each delivery to settle",
      {
        field: "delivery_ids",
      },
    );
  }
  const outcomes: SettleOutcome[] = ids.map((deliveryId) => ({ deliveryId, ok: false }));
  const call: SettleCall = { subscription, kind, ids, opts, at: parts.ctx.now(), outcomes };
  const refs = classify(parts, call);
  if (opts.allOrNothing && outcomes.some((o) => o.error)) return outcomes;
  if (refs.length > 0) {
    if (kind === "nack") await settleNacks(parts, call, refs);
    else if (kind === "term") await settleTerms(parts, call, refs);
    else await settleBatch(parts, call, refs);
  }
  if (opts.allOrNothing && outcomes.some((o) => !o.ok)) abortRest(outcomes);
  finish(parts, call);
  return outcomes;
}

export function createSettler(
  ctx: BrokerContext,
  registry: ConsumerRegistry,
  deadLetters: DeadLetters,
): Settler {
  const parts: SettleParts = { ctx, registry, deadLetters, recentAcks: createRecentAcks() };
  return {
    settle: async (name, kind, deliveryIds, opts = {}) =>
      settleFor(parts, await ctx.subscriptions.get(name), kind, deliveryIds, opts),
    settleFor: (subscription, kind, deliveryIds, opts = {}) =>
      settleFor(parts, subscription, kind, deliveryIds, opts),
  };
}
