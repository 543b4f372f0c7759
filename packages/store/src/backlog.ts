/**
 * The backlog rule every store applies in `subscriptionStats` (it lives here once; the Redis store's Lua script
 * and the SQL stores' queries state the same two conditions). The backlog of a subscription partition is:
 *
 * - the events past the cursor that retention kept: from the cursor, or from the partition's start offset when
 *   retention removed events the cursor had not reached yet (`unreadRetained`);
 * - plus its leases that wait for a redelivery (nacked, expired, parked behind a key, requeued), but only while
 *   their event is still retained: a removed event can never be delivered again (`waitsInBacklog`).
 *
 * A lease a consumer holds counts as in flight even when retention removed its event: the consumer has it and
 * may still ack it.
 */

/** Events at or after the cursor that are still retained in a partition with these offsets. */
export function unreadRetained(
  cursor: number,
  partition: { startOffset: number; endOffset: number },
): number {
  return Math.max(0, partition.endOffset - Math.max(cursor, partition.startOffset));
}

/** Whether a lease is held by a consumer at `now` (it then counts as in flight, never as backlog). */
export function isInFlight(lease: { held: boolean; deadline: number }, now: number): boolean {
  return lease.held && lease.deadline > now;
}

/**
 * Whether a lease counts in the backlog at `now`: not in flight, and its event still retained (retention removes
 * a partition's oldest events, so an offset below the start offset is gone).
 */
export function waitsInBacklog(
  lease: { offset: number; held: boolean; deadline: number },
  startOffset: number,
  now: number,
): boolean {
  return !isInFlight(lease, now) && lease.offset >= startOffset;
}
