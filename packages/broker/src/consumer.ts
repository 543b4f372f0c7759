import { createAsyncQueue, durationMs } from "@cebus/core";
import { type Delivery, DeliveryMode, type Subscription, type Topic } from "@cebus/proto";
import type { LeaseRef } from "@cebus/store";
import { retrySchedule, storedEventFilter } from "@cebus/store/delivery";
import { pump, releaseLeases } from "./consumer-pump.js";
import { type ConsumerState, type FlowWindow, forget, type Outstanding } from "./consumer-state.js";
import { markPending, visibleAgainAt } from "./consumer-wakes.js";
import type { DeliveryOwner, EngineContext } from "./context.js";
import type { SettleKind, SettleOptions, SettleOutcome } from "./settle.js";

export type { FlowWindow } from "./consumer-state.js";

/** A live consumer of one subscription. Deliveries arrive in batches; settle them through the consumer. */
export interface Consumer {
  readonly id: string;
  readonly subscription: Subscription;
  /** Batches of deliveries, until the consumer closes (or fails, e.g. its subscription was deleted). */
  readonly deliveries: AsyncIterable<Delivery[]>;
  setFlow(flow: FlowWindow): void;
  /**
   * Settles deliveries of this consumer's subscription (its own, or others' of the same subscription) without
   * looking the subscription up: what a Consume stream does with its settle messages.
   */
  settle(kind: SettleKind, deliveryIds: string[], options?: SettleOptions): Promise<SettleOutcome[]>;
  /**
   * Stops delivering. A clean close (the default) releases in-flight events for immediate redelivery to other
   * consumers; `{ release: false }` (a connection that broke) keeps their leases until the ack deadline, since the
   * consumer may still be working on them and a second copy must not overlap the first. Returns how many
   * leases it released.
   */
  close(options?: { release?: boolean }): Promise<number>;
}

export interface ConsumerOptions {
  id: string;
  name: string;
  subscription: Subscription;
  topic: Topic;
  flow: FlowWindow;
}

function initialState(ctx: EngineContext, options: ConsumerOptions): Omit<ConsumerState, "owner" | "fail"> {
  const { subscription } = options;
  // The store tests the filter inside each claim; compiling it now rejects a bad one at open, not mid-claim.
  if (subscription.filter) storedEventFilter(subscription.filter);
  return {
    ctx,
    id: options.id,
    subscription,
    partitions: Math.max(1, options.topic.partitions),
    atMostOnce: subscription.deliveryMode === DeliveryMode.AT_MOST_ONCE,
    ackDeadlineMs: durationMs(subscription.ackDeadline, ctx.limits.defaultAckDeadlineMs),
    maxAttempts: subscription.maxDeliveryAttempts,
    retry: retrySchedule(subscription.retryPolicy),
    queue: createAsyncQueue(),
    outstanding: new Map(),
    outstandingBytes: 0,
    flow: options.flow,
    nextPartition: 0,
    pending: "all",
    pumping: false,
    again: false,
    closed: false,
    wakeQueued: false,
    idlePollMs: ctx.pollIntervalMs,
    timer: undefined,
    timerAt: Number.POSITIVE_INFINITY,
    nextDeadline: Number.POSITIVE_INFINITY,
    visibleAt: new Set(),
    claimedAt: Number.NEGATIVE_INFINITY,
  };
}

/** Many wakes in one turn (a batch of acks, several publishes) become one pump. */
function wake(state: ConsumerState, partitions?: readonly number[]): void {
  markPending(state, partitions);
  if (state.wakeQueued) return;
  state.wakeQueued = true;
  setImmediate(() => {
    state.wakeQueued = false;
    void pump(state);
  });
}

/** A delivery was settled (or extended to `extendedTo`): free its credit, and refill in steps, not per ack. */
function settled(state: ConsumerState, deliveryId: string, extendedTo?: number): void {
  if (extendedTo !== undefined) {
    const entry = state.outstanding.get(deliveryId);
    if (entry) entry.deadline = extendedTo;
    return;
  }
  if (!forget(state, deliveryId)) return;
  const free = state.flow.maxEvents - state.outstanding.size;
  if (state.outstanding.size === 0 || free >= Math.max(1, Math.floor(state.flow.maxEvents / 4))) wake(state);
}

/** Ends the consumer: releases its leases (a clean close) or leaves them to their deadlines (a broken stream). */
async function shutdown(state: ConsumerState, error?: unknown, release = true): Promise<number> {
  if (state.closed) return 0;
  state.closed = true;
  if (state.timer) clearTimeout(state.timer);
  state.ctx.detach(state.owner);
  const left = [...state.outstanding.entries()];
  for (const [id] of left) forget(state, id);
  state.queue.end(error);
  if (!release) {
    wakeOthersWhenVisible(
      state,
      left.map(([, entry]) => entry),
    );
    return 0;
  }
  const refs: LeaseRef[] = left.map(([, e]) => ({
    partition: e.partition,
    offset: e.offset,
    token: e.token,
  }));
  try {
    await releaseLeases(state, refs);
    return state.atMostOnce ? 0 : refs.length;
  } catch (releaseError) {
    const logged = { err: releaseError, consumer: state.id };
    state.ctx.logger.warn(logged, "could not release in-flight events; they return at their deadline");
    return 0;
  }
}

/** Leases left to their deadlines: the subscription's other consumers look again when the first is visible. */
function wakeOthersWhenVisible(state: ConsumerState, left: Outstanding[]): void {
  if (left.length === 0) return;
  const first = Math.min(...left.map((entry) => visibleAgainAt(state, entry)));
  state.ctx.wakeSubscriptionAt(state.subscription.name, state.subscription.topic, first);
}

export function createConsumer(ctx: EngineContext, options: ConsumerOptions): Consumer & DeliveryOwner {
  const state = initialState(ctx, options) as ConsumerState;
  const consumer: Consumer & DeliveryOwner = {
    id: options.id,
    subscription: options.subscription,
    subscriptionName: options.subscription.name,
    topicName: options.subscription.topic,
    deliveries: state.queue,
    setFlow(next) {
      state.flow = next;
      wake(state);
    },
    settle: (kind, ids, settleOptions) => ctx.settle(state.subscription, kind, ids, settleOptions),
    close: (closeOptions) => shutdown(state, undefined, closeOptions?.release ?? true),
    settled: (id, extendedTo) => settled(state, id, extendedTo),
    attemptOf: (id) => state.outstanding.get(id)?.attempt,
    wake: (partitions) => wake(state, partitions),
  };
  state.owner = consumer;
  state.fail = (error) => void shutdown(state, error);
  return consumer;
}
