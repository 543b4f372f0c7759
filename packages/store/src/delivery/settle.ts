import type { AppendEvent, NackBackoff, SettleAction } from "../store.js";
import { retryDelay } from "./retry.js";
import { type DeliveryLease, leaseAt, type PartitionDeliveryState } from "./state.js";

/** A lease as a consumer names it in one partition: the offset and the token of the claim that delivered it. */
export interface LeaseHandle {
  offset: number;
  token: string;
}

export interface SettleInput {
  kind: "ack" | "nack" | "extend" | "term";
  leases: readonly LeaseHandle[];
  now: number;
  /** nack: visible again at (default: now + backoff, else now); extend: the new deadline (default now). */
  until?: number | undefined;
  /** nack without `until`: each lease waits the retry delay of its stored attempt. */
  backoff?: NackBackoff | undefined;
  /** The partition settled (keys the retry delay of `backoff`; default 0). */
  partition?: number | undefined;
  allOrNothing?: boolean | undefined;
}

export interface SettleOutcome {
  /** The state after the settle; the very object given when nothing matched. */
  state: PartitionDeliveryState;
  /** Per handle, in input order: whether it matched a current lease (and so was settled). */
  matches: boolean[];
}

/**
 * Whether a handle names a lease a consumer holds at `now`: the lease at its offset carries its token, is held and
 * its deadline is after now. A stale handle (acked, expired, redelivered to another claim, dropped by a seek) does
 * not match.
 */
export function leaseMatches(state: PartitionDeliveryState, handle: LeaseHandle, now: number): boolean {
  const lease = leaseAt(state, handle.offset);
  if (!lease) return false;
  return lease.held && lease.token === handle.token && lease.deadline > now;
}

/**
 * Settles leases of one partition (Store.settle): ack and term remove the lease for good; nack makes the event
 * wait until `until`, with its attempt kept; extend moves the deadline to `until`. Handles that do not match
 * change nothing; with `allOrNothing`, nothing changes unless all match.
 */
export function settle(state: PartitionDeliveryState, input: SettleInput): SettleOutcome {
  const matches = input.leases.map((handle) => leaseMatches(state, handle, input.now));
  if (!matches.some(Boolean) || (input.allOrNothing && matches.some((match) => !match))) {
    return { state, matches };
  }
  const offsets = input.leases.filter((_, i) => matches[i]).map((handle) => handle.offset);
  return { state: applySettle(state, offsets, input, input.partition ?? 0), matches };
}

/**
 * Applies a settle to leases already matched (a backend settling several partitions checks all of them first,
 * for `allOrNothing` across partitions, then applies per partition).
 */
export function applySettle(
  state: PartitionDeliveryState,
  offsets: readonly number[],
  input: Pick<SettleInput, "kind" | "now" | "until" | "backoff">,
  partition = 0,
): PartitionDeliveryState {
  if (offsets.length === 0) return state;
  const hit = new Set(offsets);
  const until = input.until ?? input.now;
  const leases: DeliveryLease[] = [];
  for (const lease of state.leases) {
    if (!hit.has(lease.offset)) leases.push(lease);
    else if (input.kind === "nack")
      leases.push({ ...lease, held: false, deadline: nackUntil(input, partition, lease) });
    else if (input.kind === "extend") leases.push({ ...lease, deadline: until });
    // ack and term: gone for good
  }
  return { cursor: state.cursor, leases };
}

/** When a nacked lease is visible again: `until`, else now + the retry delay of its attempt, else now. */
export function nackUntil(
  input: Pick<SettleInput, "now" | "until" | "backoff">,
  partition: number,
  lease: Pick<DeliveryLease, "offset" | "attempt">,
): number {
  if (input.until !== undefined) return input.until;
  if (!input.backoff) return input.now;
  const { subscription, retry } = input.backoff;
  return (
    input.now + retryDelay(retry, { subscription, partition, offset: lease.offset, attempt: lease.attempt })
  );
}

/** A settle over the partitions of one subscription (Store.settle), as the rules decide it. */
export interface SubscriptionSettleOutcome {
  /** Per lease, in input order: whether it matched (and so was settled). */
  matches: boolean[];
  /** The new state of each partition the settle changed; partitions left out did not change. */
  states: Map<number, PartitionDeliveryState>;
  /** The dead-letter copies of the matched leases of a term (DeadLetterAppend), in input order. */
  deadLetters: AppendEvent[];
  /**
   * A nack's instants at which its leases become visible again, earliest first, each once (at most
   * `maxWakeInstants`): what a shared store announces so other processes' consumers wake in time.
   */
  visibleAt: number[];
}

/** The most distinct visible-again instants a settle reports (the earliest ones, and the last). */
export const maxWakeInstants = 16;

/**
 * Settles leases across the partitions of one subscription (Store.settle): every lease is checked first, so
 * `allOrNothing` spans partitions, then each partition's matched leases are settled. `stateOf` gives the current
 * state of a partition (undefined when the subscription has none there: its leases do not match). Call
 * `partitionsOf(action)` to know which states to load.
 */
export function settleAcross(
  stateOf: (partition: number) => PartitionDeliveryState | undefined,
  action: SettleAction,
): SubscriptionSettleOutcome {
  const matches = action.leases.map((ref) => {
    const state = stateOf(ref.partition);
    return state !== undefined && leaseMatches(state, ref, action.now);
  });
  const states = new Map<number, PartitionDeliveryState>();
  if (action.allOrNothing && matches.some((match) => !match)) {
    return { matches, states, deadLetters: [], visibleAt: [] };
  }
  const instants = new Set<number>();
  for (const [partition, offsets] of byPartition(action.leases.filter((_, i) => matches[i]))) {
    const before = stateOf(partition) as PartitionDeliveryState;
    states.set(partition, applySettle(before, offsets, action, partition));
    if (action.kind === "nack")
      for (const at of nackInstants(before, offsets, action, partition)) instants.add(at);
  }
  const deadLetters =
    action.kind === "term" && action.deadLetter ? action.deadLetter.events.filter((_, i) => matches[i]) : [];
  return { matches, states, deadLetters, visibleAt: earliest([...instants]) };
}

function nackInstants(
  state: PartitionDeliveryState,
  offsets: readonly number[],
  action: SettleAction,
  partition: number,
): number[] {
  return offsets.flatMap((offset) => {
    const lease = leaseAt(state, offset);
    return lease ? [nackUntil(action, partition, lease)] : [];
  });
}

/** Sorted, at most maxWakeInstants: the earliest ones and the last (so the last lease still gets a wake). */
function earliest(instants: number[]): number[] {
  const sorted = instants.sort((a, b) => a - b);
  if (sorted.length <= maxWakeInstants) return sorted;
  return [...sorted.slice(0, maxWakeInstants - 1), sorted[sorted.length - 1] as number];
}

/** The partitions a settle, requeue or other list of leases names, each once, in first-seen order. */
export function partitionsOf(refs: readonly { partition: number }[]): number[] {
  return [...new Set(refs.map((ref) => ref.partition))];
}

/** Offsets grouped by partition, in first-seen order. */
export function byPartition(refs: readonly { partition: number; offset: number }[]): Map<number, number[]> {
  const groups = new Map<number, number[]>();
  for (const ref of refs) {
    const offsets = groups.get(ref.partition) ?? [];
    offsets.push(ref.offset);
    groups.set(ref.partition, offsets);
  }
  return groups;
}
