import type { EventReader } from "./events.js";
import { type DeliveryLease, leaseIndex, mergeLeases, type PartitionDeliveryState } from "./state.js";

export interface RequeueOutcome {
  /** The state after the requeue; the very object given when nothing was requeued. */
  state: PartitionDeliveryState;
  /** How many events became deliverable again. */
  count: number;
}

/**
 * Makes events of the partition deliverable again (Store.requeue, dead-letter redrive): each becomes a waiting
 * lease with attempt 0, visible at `now`, keeping its key so ordered delivery still holds. Skipped: events that
 * already have a lease, events no longer retained, and events at or past the cursor (never delivered yet: the
 * cursor delivers them, and a lease as well would deliver them twice).
 */
export function requeue(
  state: PartitionDeliveryState,
  offsets: readonly number[],
  now: number,
  events: EventReader,
): RequeueOutcome {
  const added: DeliveryLease[] = [];
  const seen = new Set<number>();
  for (const offset of offsets) {
    if (offset >= state.cursor || seen.has(offset) || leaseIndex(state.leases, offset) >= 0) continue;
    const event = events.at(offset);
    if (!event) continue;
    seen.add(offset);
    added.push({ offset, attempt: 0, token: "", deadline: now, held: false, key: event.key });
  }
  if (added.length === 0) return { state, count: 0 };
  added.sort((a, b) => a.offset - b.offset);
  return { state: { cursor: state.cursor, leases: mergeLeases(state.leases, added) }, count: added.length };
}
