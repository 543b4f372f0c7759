import type { ClaimResult, Lease, StoredEvent } from "../store.js";
import type { EventReader } from "./events.js";
import { busyKeys, type DeliveryLease, mergeLeases, type PartitionDeliveryState } from "./state.js";
import { type ExpiryPolicy, visibleAt } from "./visibility.js";

/** A claim on one subscription partition (Store.claim without the names the backend resolves). */
export interface ClaimInput extends ExpiryPolicy {
  max: number;
  maxBytes: number;
  now: number;
  leaseMs: number;
  token: string;
  autoAck: boolean;
  ordered?: boolean | undefined;
  /** Events it rejects are passed over: never leased or delivered; the cursor moves past them. */
  filter?: ((event: StoredEvent) => boolean) | undefined;
}

export interface ClaimOutcome {
  /** The state after the claim; the very object given when the claim changed nothing. */
  state: PartitionDeliveryState;
  leases: Lease[];
  /** Events the filter rejected (the cursor moved past them, or their lease was dropped). */
  passedOver: number;
  /** When it took nothing: the earliest instant after `now` at which a lease becomes claimable again. */
  nextVisibleAt?: number | undefined;
}

/** With a filter, a claim reads at least this many events from the cursor, so rejected ones do not starve it. */
export const filteredReadWindow = 512;

/**
 * Leases up to `max` events (Store.claim): first the leases visible again at `now` (nacked, expired past their
 * retry delay, parked, requeued), oldest offset first, with attempt + 1, when ordered only the earliest lease of
 * each key; then new events from the cursor, which moves past them, with attempt 1, parking (attempt 0) those
 * whose key has a lease when ordered. Stops before the total size would pass `maxBytes`, but always takes the
 * first event; a redelivery that does not fit ends the claim. A visible lease whose event is no longer retained is
 * dropped. With `autoAck`, takes from the cursor only and keeps no lease.
 */
export function claim(state: PartitionDeliveryState, input: ClaimInput, events: EventReader): ClaimOutcome {
  if (input.max <= 0) return { state, leases: [], passedOver: 0 };
  const draft: Draft = { leases: [...state.leases], taken: [], bytes: 0, changed: false, passedOver: 0 };
  const stopped = input.autoAck ? false : redeliver(draft, state, input, events);
  if (stopped || draft.taken.length >= input.max) return finish(draft, state, state.cursor, []);
  const fresh = deliverNew(draft, state.cursor, input, events);
  const outcome = finish(draft, state, fresh.cursor, fresh.added);
  if (outcome.leases.length === 0 && !input.autoAck)
    outcome.nextVisibleAt = nextVisible(outcome.state, input);
  return outcome;
}

/**
 * The earliest instant after `now` at which a lease of the state becomes claimable (a held lease expiring past its
 * retry delay, a nacked one's delay ending); undefined when none will. Only for a claim that took nothing: it
 * reads every lease.
 */
function nextVisible(state: PartitionDeliveryState, input: ClaimInput): number | undefined {
  let next = Number.POSITIVE_INFINITY;
  for (const lease of state.leases) {
    const at = visibleAt(lease, input);
    if (at > input.now && at < next) next = at;
  }
  return next === Number.POSITIVE_INFINITY ? undefined : next;
}

/** A claim in progress: the leases (undefined where dropped) and what was taken so far. */
interface Draft {
  leases: (DeliveryLease | undefined)[];
  taken: Lease[];
  bytes: number;
  changed: boolean;
  passedOver: number;
}

/** Leases the visible redeliveries again; true when one did not fit in `maxBytes` (the claim then ends). */
function redeliver(
  draft: Draft,
  state: PartitionDeliveryState,
  input: ClaimInput,
  events: EventReader,
): boolean {
  const deadline = input.now + input.leaseMs;
  for (const index of visibleIndexes(state, input)) {
    if (draft.taken.length >= input.max) return false;
    const lease = state.leases[index] as DeliveryLease;
    const event = events.at(lease.offset);
    if (!event || (input.filter && !input.filter(event))) {
      draft.leases[index] = undefined; // removed by retention, or rejected by the filter: nothing to deliver
      draft.changed = true;
      if (event) draft.passedOver++;
      continue;
    }
    if (!fits(draft, event, input.maxBytes)) return true;
    const again = { ...lease, attempt: lease.attempt + 1, token: input.token, deadline, held: true };
    draft.leases[index] = again;
    take(draft, event, again.attempt, input.token, deadline);
  }
  return false;
}

/** Indexes of the leases claimable at `now`, in offset order; when ordered, only the first lease of each key. */
function visibleIndexes(state: PartitionDeliveryState, input: ClaimInput): number[] {
  const seenKeys = new Set<string>();
  const visible: number[] = [];
  state.leases.forEach((lease, index) => {
    const blocked = input.ordered === true && lease.key !== undefined && seenKeys.has(lease.key);
    if (lease.key !== undefined) seenKeys.add(lease.key);
    if (blocked || (lease.held && lease.deadline > input.now)) return;
    if (visibleAt(lease, input) <= input.now) visible.push(index);
  });
  return visible;
}

/** Takes new events from the cursor into the room left; returns the new cursor and the leases to add. */
function deliverNew(
  draft: Draft,
  cursor: number,
  input: ClaimInput,
  events: EventReader,
): { cursor: number; added: DeliveryLease[] } {
  const parking = input.ordered === true && !input.autoAck;
  const busy = parking ? busyKeys(kept(draft)) : new Set<string>();
  const deadline = input.now + input.leaseMs;
  const added: DeliveryLease[] = [];
  let next = cursor;
  const room = input.max - draft.taken.length;
  const window = input.filter ? Math.max(room, filteredReadWindow) : room;
  for (const event of events.from(cursor, window)) {
    if (draft.taken.length >= input.max) break;
    if (input.filter && !input.filter(event)) {
      draft.passedOver++;
      next = event.offset + 1;
      continue;
    }
    if (parking && event.key !== undefined && busy.has(event.key)) {
      added.push(parkedLease(event));
      next = event.offset + 1;
      continue;
    }
    if (!fits(draft, event, input.maxBytes)) break;
    if (!input.autoAck) {
      added.push({
        offset: event.offset,
        attempt: 1,
        token: input.token,
        deadline,
        held: true,
        key: event.key,
      });
      if (event.key !== undefined) busy.add(event.key);
    }
    take(draft, event, 1, input.token, input.autoAck ? 0 : deadline);
    next = event.offset + 1;
  }
  return { cursor: next, added };
}

/** An event read from the cursor while its key has a lease: it waits, visible now, behind the key's earlier ones. */
function parkedLease(event: StoredEvent): DeliveryLease {
  return { offset: event.offset, attempt: 0, token: "", deadline: 0, held: false, key: event.key };
}

function fits(draft: Draft, event: StoredEvent, maxBytes: number): boolean {
  return draft.taken.length === 0 || draft.bytes + event.data.byteLength <= maxBytes;
}

function take(draft: Draft, event: StoredEvent, attempt: number, token: string, deadline: number): void {
  draft.taken.push({ event, attempt, token, deadline });
  draft.bytes += event.data.byteLength;
  draft.changed = true;
}

function kept(draft: Draft): DeliveryLease[] {
  return draft.leases.filter((lease): lease is DeliveryLease => lease !== undefined);
}

function finish(
  draft: Draft,
  state: PartitionDeliveryState,
  cursor: number,
  added: DeliveryLease[],
): ClaimOutcome {
  if (!draft.changed && cursor === state.cursor && added.length === 0)
    return { state, leases: [], passedOver: 0 };
  const after = { cursor, leases: mergeLeases(kept(draft), added) };
  return { state: after, leases: draft.taken, passedOver: draft.passedOver };
}

/**
 * What Store.claim returns for an outcome: the leases, with `passedOver` when the filter passed over any and
 * `nextVisibleAt` when it took nothing and a lease becomes claimable later.
 */
export function claimResult(outcome: ClaimOutcome): ClaimResult {
  const result: ClaimResult = outcome.leases;
  if (outcome.passedOver > 0) result.passedOver = outcome.passedOver;
  if (outcome.nextVisibleAt !== undefined) result.nextVisibleAt = outcome.nextVisibleAt;
  return result;
}
