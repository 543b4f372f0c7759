import { retryDelay } from "@cebus/store/delivery";
import type { ConsumerState, Outstanding } from "./consumer-state.js";
import { forget } from "./consumer-state.js";

/**
 * When a consumer looks at the store again: at once when woken (publishes, settles, nacks of this process, store
 * changes of others), when the first outstanding lease expires, when an expired lease is visible again (its
 * deadline + the retry delay the store applies, delivery/retry.ts), and otherwise on an idle poll that grows.
 */

/** The instant an expired lease is visible again: the same one the store computes for it. */
export function visibleAgainAt(state: ConsumerState, entry: Outstanding): number {
  const { subscription, retry } = state;
  const key = { subscription: subscription.name, partition: entry.partition, offset: entry.offset };
  return entry.deadline + retryDelay(retry, { ...key, attempt: entry.attempt });
}

/** Forgets the deliveries whose lease expired by `now`, remembering when each is visible again. */
export function expire(state: ConsumerState, now: number): void {
  if (now < state.nextDeadline) return;
  state.nextDeadline = Number.POSITIVE_INFINITY;
  for (const [key, entry] of state.outstanding) {
    if (entry.deadline <= now) {
      forget(state, key);
      const at = visibleAgainAt(state, entry);
      if (at > now) state.visibleAt.add(at);
    } else state.nextDeadline = Math.min(state.nextDeadline, entry.deadline);
  }
}

/** The next instant an expired lease becomes visible that no claim has looked at yet. */
function nextVisible(state: ConsumerState): number {
  let next = Number.POSITIVE_INFINITY;
  for (const at of state.visibleAt) {
    if (at < state.claimedAt) state.visibleAt.delete(at);
    else next = Math.min(next, at);
  }
  return next;
}

/** Arms the one timer for the earliest of: idle poll, first deadline, first visible-again instant. */
export function schedule(state: ConsumerState): void {
  if (state.closed) return;
  const now = state.ctx.now();
  const at = Math.min(now + state.idlePollMs, state.nextDeadline + 1, nextVisible(state) + 1);
  if (state.timer && state.timerAt <= at) return;
  if (state.timer) clearTimeout(state.timer);
  state.timerAt = at;
  state.timer = setTimeout(() => onTimer(state), Math.max(0, at - now));
  state.timer.unref?.();
}

function onTimer(state: ConsumerState): void {
  state.timer = undefined;
  state.timerAt = Number.POSITIVE_INFINITY;
  state.owner.wake();
}

/** Notes which partitions to claim from: the given ones, or all. */
export function markPending(state: ConsumerState, partitions: readonly number[] | undefined): void {
  if (partitions === undefined) state.pending = "all";
  else if (state.pending !== "all") for (const partition of partitions) state.pending.add(partition);
}

/** The partitions to claim from now, in round-robin order from `nextPartition`; clears the pending set. */
export function takePending(state: ConsumerState): number[] {
  const { partitions, pending } = state;
  const order = Array.from({ length: partitions }, (_, i) => (state.nextPartition + i) % partitions);
  state.pending = new Set();
  state.nextPartition = (state.nextPartition + 1) % partitions;
  return pending === "all" ? order : order.filter((partition) => pending.has(partition));
}
