import { fromBinary } from "@bufbuild/protobuf";
import { CebusError, durationMs } from "@cebus/core";
import { CloudEventSchema, DeliveryMode, type Subscription } from "@cebus/proto";
import type { LeaseRef } from "@cebus/store";
import { retryDelay } from "./backoff.js";
import type { ConsumerRegistry } from "./consumer-registry.js";
import type { BrokerContext } from "./context.js";
import type { DeadLetters } from "./dead-letters.js";
import { isAtMostOnceToken, parseDeliveryId } from "./delivery-id.js";
import { refOf, requireSubscription } from "./lookup.js";
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
  settle(
    subscription: string,
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
  readonly leaseMs: number;
  readonly outcomes: SettleOutcome[];
}

interface IndexedRef {
  index: number;
  ref: LeaseRef;
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
        {
          field: "delivery_ids",
        },
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

function attemptOf(parts: SettleParts, id: string): number {
  return parts.registry.ownerOf(id)?.attemptOf(id) ?? 1;
}

// Backoff depends on each delivery's attempt, so nacks without a delay are settled one by one.
async function settleNacks(parts: SettleParts, call: SettleCall, refs: IndexedRef[]): Promise<void> {
  const { subscription, opts, at } = call;
  const groups = new Map<number, IndexedRef[]>();
  for (const item of refs) {
    const attempt = attemptOf(parts, call.ids[item.index] as string);
    const until = at + (opts.delayMs ?? retryDelay(subscription.retryPolicy, attempt));
    groups.set(until, [...(groups.get(until) ?? []), item]);
  }
  const all = await Promise.all(
    [...groups].map(async ([until, items]) => {
      const ok = await parts.ctx.store.settle(refOf(subscription), {
        kind: "nack",
        leases: items.map((i) => i.ref),
        now: at,
        until,
        allOrNothing: opts.allOrNothing,
      });
      if (ok.some(Boolean)) parts.registry.wakeSubscriptionAt(subscription.name, subscription.topic, until);
      return items.map((item, j) => ({ index: item.index, ok: ok[j] === true }));
    }),
  );
  for (const { index, ok } of all.flat()) (call.outcomes[index] as SettleOutcome).ok = ok;
}

async function termOne(parts: SettleParts, call: SettleCall, { index, ref }: IndexedRef): Promise<boolean> {
  const { store } = parts.ctx;
  const { subscription, at } = call;
  const [stored] = await store.read(subscription.topic, ref.partition, ref.offset, 1);
  if (stored?.offset !== ref.offset) return false;
  const [held] = await store.settle(refOf(subscription), {
    kind: "extend",
    leases: [ref],
    now: at,
    until: at + call.leaseMs,
  });
  if (!held) return false;
  const attempt = attemptOf(parts, call.ids[index] as string);
  const event = fromBinary(CloudEventSchema, stored.data);
  await parts.deadLetters.deadLetter(
    subscription,
    event,
    ref,
    attempt,
    call.opts.reason || "terminated by consumer",
  );
  return true;
}

// Each terminated event is read back and moved to the dead-letter topic; the lease is checked first (by
// extending it) so a stale delivery id moves nothing.
async function settleTerms(parts: SettleParts, call: SettleCall, refs: IndexedRef[]): Promise<void> {
  const ok = await Promise.all(refs.map((item) => termOne(parts, call, item)));
  refs.forEach(({ index }, j) => {
    (call.outcomes[index] as SettleOutcome).ok = ok[j] === true;
  });
}

/** Acks and extends: one store call for the whole batch. */
async function settleBatch(parts: SettleParts, call: SettleCall, refs: IndexedRef[]): Promise<void> {
  const { kind, at, opts } = call;
  const until = kind === "extend" ? at + (opts.extensionMs ?? call.leaseMs) : undefined;
  const ok = await parts.ctx.store.settle(refOf(call.subscription), {
    kind,
    leases: refs.map((r) => r.ref),
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

async function settleOne(
  parts: SettleParts,
  subscription: Subscription,
  kind: SettleKind,
  ids: string[],
  opts: SettleOptions,
): Promise<SettleOutcome[]> {
  const call: SettleCall = {
    subscription,
    kind,
    ids,
    opts,
    at: parts.ctx.now(),
    leaseMs: durationMs(subscription.ackDeadline, parts.ctx.limits.defaultAckDeadlineMs),
    outcomes: ids.map((deliveryId) => ({ deliveryId, ok: false })),
  };
  const refs = classify(parts, call);
  if (opts.allOrNothing && call.outcomes.some((o) => o.error)) return call.outcomes;
  if (refs.length > 0) {
    if (kind === "nack") await settleNacks(parts, call, refs);
    else if (kind === "term") await settleTerms(parts, call, refs);
    else await settleBatch(parts, call, refs);
  }
  if (opts.allOrNothing && call.outcomes.some((o) => !o.ok)) abortRest(call.outcomes);
  finish(parts, call);
  return call.outcomes;
}

async function settle(
  parts: SettleParts,
  subscriptionName: string,
  kind: SettleKind,
  deliveryIds: string[],
  opts: SettleOptions,
): Promise<SettleOutcome[]> {
  const subscription = await requireSubscription(parts.ctx.store, subscriptionName);
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
  return settleOne(parts, subscription, kind, deliveryIds, opts);
}

export function createSettler(
  ctx: BrokerContext,
  registry: ConsumerRegistry,
  deadLetters: DeadLetters,
): Settler {
  const parts: SettleParts = { ctx, registry, deadLetters, recentAcks: createRecentAcks() };
  return {
    settle: (subscription, kind, deliveryIds, opts = {}) =>
      settle(parts, subscription, kind, deliveryIds, opts),
  };
}
