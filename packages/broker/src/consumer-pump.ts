import { msToTimestamp } from "@cebus/core";
import type { Delivery } from "@cebus/proto";
import type { ClaimResult, Lease, LeaseRef } from "@cebus/store";
import type { ConsumerState } from "./consumer-state.js";
import { expire, schedule, takePending } from "./consumer-wakes.js";
import type { Failed } from "./dead-letters.js";
import { decodeStored, deliveryWithStoredEvent } from "./delivery-event.js";
import { deliveryId, newToken } from "./delivery-id.js";
import { refOf } from "./lookup.js";

/**
 * The consumer's pump: claims from the pending partitions while it has credit (the store passes over what the
 * subscription's filter rejects), turns leases into deliveries, and sends what is over the attempt limit to the
 * dead-letter topic.
 */

/** Runs claim rounds until one finds nothing (or the consumer closes), then arms the next wake. */
export async function pump(state: ConsumerState): Promise<void> {
  if (state.closed) return;
  if (state.pumping) {
    state.again = true;
    return;
  }
  state.pumping = true;
  try {
    let found = false;
    do {
      state.again = false;
      if (await claimRound(state)) {
        state.again = true;
        found = true;
      }
    } while (state.again && !state.closed);
    const { pollIntervalMs, maxPollIntervalMs } = state.ctx;
    state.idlePollMs = found ? pollIntervalMs : Math.min(maxPollIntervalMs, state.idlePollMs * 2);
  } catch (error) {
    const { id, subscription } = state;
    state.ctx.logger.warn({ err: error, consumer: id, subscription: subscription.name }, "consumer stopped");
    state.fail(error);
    return;
  } finally {
    state.pumping = false;
  }
  schedule(state);
}

/** One round over the pending partitions; true when any claim returned something (there may be more). */
async function claimRound(state: ConsumerState): Promise<boolean> {
  const now = state.ctx.now();
  state.claimedAt = now;
  expire(state, now);
  if (!hasCredit(state)) return false;
  const batch: Delivery[] = [];
  let claimedAny = false;
  for (const partition of takePending(state)) {
    if (!hasCredit(state)) {
      state.pending = "all"; // the rest waits for credit; a settle's wake looks at every partition anyway
      break;
    }
    const leases = await claimPartition(state, partition, now);
    if (leases.length === 0) {
      if (leases.nextVisibleAt !== undefined) state.visibleAt.add(leases.nextVisibleAt);
      if (!leases.passedOver) continue;
      claimedAny = true; // it passed over filtered events only: there may be more behind them
      if (state.pending !== "all") state.pending.add(partition);
      continue;
    }
    claimedAny = true;
    if (state.closed) {
      await releaseLeases(state, leases.map(leaseRefOf));
      return false;
    }
    await deliver(state, leases, now, batch);
    if (state.pending !== "all") state.pending.add(partition); // it may hold more
  }
  if (batch.length > 0) state.queue.push(batch);
  return claimedAny;
}

function hasCredit(state: ConsumerState): boolean {
  return state.flow.maxEvents > state.outstanding.size && state.flow.maxBytes > state.outstandingBytes;
}

function claimPartition(state: ConsumerState, partition: number, now: number): Promise<ClaimResult> {
  const { subscription } = state;
  return state.ctx.store.claim({
    subscription: subscription.name,
    topic: subscription.topic,
    partition,
    consumer: state.id,
    max: state.flow.maxEvents - state.outstanding.size,
    maxBytes: state.flow.maxBytes - state.outstandingBytes,
    now,
    leaseMs: state.ackDeadlineMs,
    token: newToken(state.atMostOnce),
    autoAck: state.atMostOnce,
    ordered: subscription.ordered,
    retry: state.retry,
    ...(subscription.filter ? { filter: subscription.filter } : {}),
  });
}

/** Turns a claim's leases into deliveries (appended to `batch`); dead-letters those over the attempt limit. */
async function deliver(state: ConsumerState, leases: Lease[], now: number, batch: Delivery[]): Promise<void> {
  const overLimit: Failed[] = [];
  for (const lease of leases) {
    const ref = leaseRefOf(lease);
    if (!state.atMostOnce && state.maxAttempts > 0 && lease.attempt > state.maxAttempts) {
      overLimit.push({ event: decodeStored(lease.event.data), lease: ref, attempts: lease.attempt - 1 });
    } else {
      batch.push(track(state, lease, now));
    }
  }
  if (overLimit.length > 0) {
    await state.ctx.terminate(state.subscription, overLimit, "max delivery attempts reached");
  }
}

/**
 * Records a delivery as outstanding (credit, deadline, owner) and builds what the client receives: the event goes
 * out as the bytes the store holds (delivery-event.ts).
 */
function track(state: ConsumerState, lease: Lease, now: number): Delivery {
  const { partition, offset, data, publishTime } = lease.event;
  const id = deliveryId(partition, offset, lease.attempt, lease.token);
  const deadline = state.atMostOnce ? now + state.ackDeadlineMs : lease.deadline;
  const bytes = data.byteLength;
  state.outstanding.set(id, {
    bytes,
    deadline,
    attempt: lease.attempt,
    partition,
    offset,
    token: lease.token,
  });
  state.nextDeadline = Math.min(state.nextDeadline, deadline);
  state.outstandingBytes += bytes;
  state.ctx.track(id, state.owner);
  const fields = {
    deliveryId: id,
    attempt: lease.attempt,
    partition,
    offset: BigInt(offset),
    publishTime: msToTimestamp(publishTime),
    leaseDeadline: state.atMostOnce ? undefined : msToTimestamp(lease.deadline),
  };
  return deliveryWithStoredEvent(fields, data, offset);
}

/** Makes leases visible again at once (a clean close, or leases claimed while closing). */
export async function releaseLeases(state: ConsumerState, leases: LeaseRef[]): Promise<void> {
  if (state.atMostOnce || leases.length === 0) return;
  const now = state.ctx.now();
  const { subscription } = state;
  await state.ctx.store.settle(refOf(subscription), { kind: "nack", leases, now, until: now });
  state.ctx.wakeSubscriptionAt(subscription.name, subscription.topic, now); // the other consumers take them now
}

function leaseRefOf(lease: Lease): LeaseRef {
  return { partition: lease.event.partition, offset: lease.event.offset, token: lease.token };
}
