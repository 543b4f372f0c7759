import { initialState, type PartitionDeliveryState } from "./state.js";

/**
 * Moves the cursor (Store.seek) and drops every lease and pending redelivery: after a seek the partition is
 * delivered from `cursor` as if for the first time, and handles of earlier deliveries no longer match.
 */
export function seek(_state: PartitionDeliveryState, cursor: number): PartitionDeliveryState {
  return { cursor, leases: [] };
}

/** Drops every lease and keeps the cursor (a seek that leaves this partition's position as it is). */
export function dropLeases(state: PartitionDeliveryState): PartitionDeliveryState {
  return state.leases.length === 0 ? state : { cursor: state.cursor, leases: [] };
}

/**
 * One partition of a subscription seek (Store.seek with a cursor per partition): a partition given a cursor moves
 * there with no leases; one left out keeps its cursor and drops its leases. Undefined when the subscription has no
 * state there and the seek gives it no cursor (nothing to store).
 */
export function seekPartition(
  state: PartitionDeliveryState | undefined,
  cursor: number | undefined,
): PartitionDeliveryState | undefined {
  if (cursor === undefined) return state && dropLeases(state);
  return seek(state ?? initialState(cursor), cursor);
}
