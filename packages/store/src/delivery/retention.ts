import type { EventReader } from "./events.js";
import type { PartitionDeliveryState } from "./state.js";

/**
 * After retention removed events (Store.trim): drops the waiting leases (nacked, parked, requeued) whose event is
 * gone. A removed event can never be delivered again, and its lease would keep its key blocked on an ordered
 * subscription. Held leases stay, so their consumer's ack or nack still matches; once expired, the claim that
 * reaches one drops it. Returns the very state given when nothing was dropped.
 */
export function dropRemoved(state: PartitionDeliveryState, events: EventReader): PartitionDeliveryState {
  const kept = state.leases.filter((lease) => lease.held || events.at(lease.offset) !== undefined);
  return kept.length === state.leases.length ? state : { cursor: state.cursor, leases: kept };
}
