import { create, fromBinary } from "@bufbuild/protobuf";
import {
  type AsyncQueue,
  compileFilter,
  createAsyncQueue,
  durationMs,
  msToTimestamp,
  stringAttribute,
} from "@cebus/core";
import {
  CloudEventSchema,
  type Delivery,
  DeliveryMode,
  DeliverySchema,
  type Subscription,
  type Topic,
} from "@cebus/proto";
import type { Lease, LeaseRef } from "@cebus/store";
import { retryBand, retryDelay, retrySchedule } from "@cebus/store/delivery";
import type { DeliveryOwner, EngineContext } from "./context.js";
import { deliveryId, newToken } from "./delivery-id.js";
import { refOf as subscriptionRef } from "./lookup.js";

/** A consumer's flow-control window: the most events and bytes it holds unacked. */
export interface FlowWindow {
  maxEvents: number;
  maxBytes: number;
}

/** A live consumer of one subscription. Deliveries arrive in batches; settle them through the broker. */
export interface Consumer {
  readonly id: string;
  readonly subscription: Subscription;
  /** Batches of deliveries, until the consumer closes (or fails, e.g. its subscription was deleted). */
  readonly deliveries: AsyncIterable<Delivery[]>;
  setFlow(flow: FlowWindow): void;
  /**
   * Stops delivering. A clean close (the default) releases in-flight events for immediate redelivery to other
   * consumers; `{ release: false }` (a connection that broke) keeps their leases until the ack deadline, since the
   * consumer may still be working on them and a second copy must not overlap the first. Returns how many
   * leases it released.
   */
  close(options?: { release?: boolean }): Promise<number>;
}

interface Outstanding {
  bytes: number;
  deadline: number;
  attempt: number;
  partition: number;
  offset: number;
}

export interface ConsumerOptions {
  id: string;
  name: string;
  subscription: Subscription;
  topic: Topic;
  flow: FlowWindow;
}

export function createConsumer(ctx: EngineContext, options: ConsumerOptions): Consumer & DeliveryOwner {
  const { subscription, topic, id } = options;
  const store = ctx.store;
  const matches = compileFilter(subscription.filter, "subscription.filter");
  const atMostOnce = subscription.deliveryMode === DeliveryMode.AT_MOST_ONCE;
  const ackDeadlineMs = durationMs(subscription.ackDeadline, ctx.limits.defaultAckDeadlineMs);
  const maxAttempts = subscription.maxDeliveryAttempts;
  const partitions = Math.max(1, topic.partitions);
  const queue: AsyncQueue<Delivery[]> = createAsyncQueue();
  const outstanding = new Map<string, Outstanding>();
  let outstandingBytes = 0;
  let flow = options.flow;
  let nextPartition = 0;
  let pumping = false;
  let again = false;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  let timerAt = Number.POSITIVE_INFINITY;
  // A lower bound of the outstanding deadlines, so expiry and scheduling scan the map only when one may be due.
  let nextDeadline = Number.POSITIVE_INFINITY;
  let wakeQueued = false;
  let idlePollMs = ctx.pollIntervalMs; // grows while polls find nothing, so idle consumers cost (almost) nothing
  // The subscription's retry schedule, passed as data in every claim: an expired lease is visible again at its
  // deadline + retryDelay(schedule, lease), the same instant here and in the store. Each such instant wakes this
  // consumer (see `expiryWakes`).
  const retry = retrySchedule(subscription.retryPolicy);
  const visibleAt = new Set<number>();
  let claimedAt = Number.NEGATIVE_INFINITY;

  function forget(deliveryIdValue: string): Outstanding | undefined {
    const entry = outstanding.get(deliveryIdValue);
    if (!entry) return undefined;
    outstanding.delete(deliveryIdValue);
    outstandingBytes -= entry.bytes;
    ctx.untrack(deliveryIdValue);
    return entry;
  }

  /** The delay after an expired lease of `attempt` at `offset`: the one the store applies (delivery/retry.ts). */
  function expiryDelay(partition: number, offset: number, attempt: number): number {
    return retryDelay(retry, { subscription: subscription.name, partition, offset, attempt });
  }

  /**
   * When an expired lease is visible again: its deadline + the store's delay. Also the top of the jitter band while
   * backends not yet on the delivery rules (redis) apply one delay per attempt and not per event.
   */
  function expiryWakes(entry: Outstanding): number[] {
    const exact = entry.deadline + expiryDelay(entry.partition, entry.offset, entry.attempt);
    return [exact, entry.deadline + retryBand(retry, entry.attempt).max];
  }

  function expire(now: number): void {
    if (now < nextDeadline) return;
    nextDeadline = Number.POSITIVE_INFINITY;
    for (const [key, entry] of outstanding) {
      if (entry.deadline <= now) {
        forget(key);
        for (const at of expiryWakes(entry)) if (at > now) visibleAt.add(at);
      } else nextDeadline = Math.min(nextDeadline, entry.deadline);
    }
  }

  /** The next time an expired lease becomes visible that no claim has looked at yet. */
  function nextVisible(): number {
    let next = Number.POSITIVE_INFINITY;
    for (const at of visibleAt) {
      if (at < claimedAt) visibleAt.delete(at);
      else next = Math.min(next, at);
    }
    return next;
  }

  function schedule(): void {
    if (closed) return;
    const now = ctx.now();
    const at = Math.min(now + idlePollMs, nextDeadline + 1, nextVisible() + 1);
    if (timer && timerAt <= at) return;
    if (timer) clearTimeout(timer);
    timerAt = at;
    timer = setTimeout(
      () => {
        timer = undefined;
        timerAt = Number.POSITIVE_INFINITY;
        consumer.wake();
      },
      Math.max(0, at - now),
    );
    timer.unref?.();
  }

  async function pumpOnce(): Promise<boolean> {
    const now = ctx.now();
    claimedAt = now;
    expire(now);
    let credit = flow.maxEvents - outstanding.size;
    let bytesCredit = flow.maxBytes - outstandingBytes;
    if (credit <= 0 || bytesCredit <= 0) return false;
    const batch: Delivery[] = [];
    let claimedAny = false;
    for (let i = 0; i < partitions && credit > 0 && bytesCredit > 0; i++) {
      const partition = (nextPartition + i) % partitions;
      const token = newToken(atMostOnce);
      const leases = await store.claim({
        subscription: subscription.name,
        topic: subscription.topic,
        partition,
        consumer: id,
        max: credit,
        maxBytes: bytesCredit,
        now,
        leaseMs: ackDeadlineMs,
        token,
        autoAck: atMostOnce,
        ordered: subscription.ordered,
        retry,
        expiryDelayMs: (attempt, offset) => expiryDelay(partition, offset, attempt),
      });
      if (leases.length === 0) continue;
      claimedAny = true;
      if (closed) {
        await release(leases.map((lease) => refOf(lease)));
        return false;
      }
      const skipped: LeaseRef[] = [];
      for (const lease of leases) {
        const event = fromBinary(CloudEventSchema, lease.event.data);
        const ref = refOf(lease);
        if (!atMostOnce && maxAttempts > 0 && lease.attempt > maxAttempts) {
          await ctx.deadLetter(subscription, event, ref, lease.attempt - 1, "max delivery attempts reached");
          continue;
        }
        if (!matches(event)) {
          if (!atMostOnce) skipped.push(ref);
          continue;
        }
        event.attributes.sequence = stringAttribute(String(lease.event.offset).padStart(20, "0"));
        const idValue = deliveryId(lease.event.partition, lease.event.offset, lease.token);
        const bytes = lease.event.data.byteLength;
        const deadline = atMostOnce ? now + ackDeadlineMs : lease.deadline;
        outstanding.set(idValue, {
          bytes,
          deadline,
          attempt: lease.attempt,
          partition: lease.event.partition,
          offset: lease.event.offset,
        });
        nextDeadline = Math.min(nextDeadline, deadline);
        outstandingBytes += bytes;
        ctx.track(idValue, consumer);
        credit--;
        bytesCredit -= bytes;
        batch.push(
          create(DeliverySchema, {
            deliveryId: idValue,
            attempt: lease.attempt,
            partition: lease.event.partition,
            offset: BigInt(lease.event.offset),
            event,
            publishTime: msToTimestamp(lease.event.publishTime),
            leaseDeadline: atMostOnce ? undefined : msToTimestamp(lease.deadline),
          }),
        );
      }
      if (skipped.length > 0) {
        await store.settle(subscriptionRef(subscription), { kind: "ack", leases: skipped, now: ctx.now() });
      }
    }
    nextPartition = (nextPartition + 1) % partitions;
    if (batch.length > 0) queue.push(batch);
    return claimedAny;
  }

  async function pump(): Promise<void> {
    if (closed) return;
    if (pumping) {
      again = true;
      return;
    }
    pumping = true;
    try {
      let found = false;
      do {
        again = false;
        if (await pumpOnce()) {
          again = true;
          found = true;
        }
      } while (again && !closed);
      idlePollMs = found ? ctx.pollIntervalMs : Math.min(ctx.maxPollIntervalMs, idlePollMs * 2);
    } catch (error) {
      ctx.logger.warn({ err: error, consumer: id, subscription: subscription.name }, "consumer stopped");
      void shutdown(error);
      return;
    } finally {
      pumping = false;
    }
    schedule();
  }

  async function release(leases: LeaseRef[]): Promise<void> {
    if (atMostOnce || leases.length === 0) return;
    const now = ctx.now();
    await store.settle(subscriptionRef(subscription), { kind: "nack", leases, now, until: now });
  }

  async function shutdown(error?: unknown, releaseLeases = true): Promise<number> {
    if (closed) return 0;
    closed = true;
    if (timer) clearTimeout(timer);
    ctx.detach(consumer);
    const refs: LeaseRef[] = [];
    const left: Outstanding[] = [...outstanding.values()];
    for (const key of [...outstanding.keys()]) {
      forget(key);
      const [partition, offset, token] = key.split(".");
      refs.push({ partition: Number(partition), offset: Number(offset), token: token as string });
    }
    queue.end(error);
    if (!releaseLeases) {
      // The leases stay until their deadlines; make sure the subscription's other consumers look again when the
      // first is visible again, and when the last is.
      let first = Number.POSITIVE_INFINITY;
      let last = 0;
      for (const entry of left) {
        const [exact = entry.deadline, bandEnd = exact] = expiryWakes(entry);
        first = Math.min(first, exact);
        last = Math.max(last, bandEnd);
      }
      if (left.length > 0) {
        ctx.wakeSubscriptionAt(subscription.name, subscription.topic, first);
        if (last > first) ctx.wakeSubscriptionAt(subscription.name, subscription.topic, last);
      }
      return 0;
    }
    try {
      await release(refs);
      return atMostOnce ? 0 : refs.length;
    } catch (releaseError) {
      ctx.logger.warn(
        { err: releaseError, consumer: id },
        "could not release in-flight events; they return at their deadline",
      );
      return 0;
    }
  }

  const consumer: Consumer & DeliveryOwner = {
    id,
    subscription,
    subscriptionName: subscription.name,
    topicName: subscription.topic,
    deliveries: queue,
    setFlow(next) {
      flow = next;
      consumer.wake();
    },
    close: (options) => shutdown(undefined, options?.release ?? true),
    settled(deliveryIdValue, extendedTo) {
      if (extendedTo !== undefined) {
        const entry = outstanding.get(deliveryIdValue);
        if (entry) entry.deadline = extendedTo;
        return;
      }
      // Refill in steps, not per ack: claim again once a quarter of the window is free (or nothing is left).
      if (!forget(deliveryIdValue)) return;
      const free = flow.maxEvents - outstanding.size;
      if (outstanding.size === 0 || free >= Math.max(1, Math.floor(flow.maxEvents / 4))) consumer.wake();
    },
    attemptOf(deliveryIdValue) {
      return outstanding.get(deliveryIdValue)?.attempt;
    },
    wake() {
      // Many wakes in one turn (a batch of acks, several publishes) become one pump.
      if (wakeQueued) return;
      wakeQueued = true;
      setImmediate(() => {
        wakeQueued = false;
        void pump();
      });
    },
  };
  return consumer;
}

function refOf(lease: Lease): LeaseRef {
  return { partition: lease.event.partition, offset: lease.event.offset, token: lease.token };
}
