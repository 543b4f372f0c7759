/**
 * The delivery state of one subscription partition: everything the delivery rules decide from, apart from the
 * events themselves (the log, which backends keep). A backend persists it atomically (a row, a KV value under
 * compare-and-set, a hash) and hands it to the rules for every claim, settle, requeue, seek and count.
 *
 * Values are immutable: the rules return a new state and never change the one they were given.
 */

/** One lease of a subscription partition: held by a consumer, or waiting to be delivered (again). */
export interface DeliveryLease {
  readonly offset: number;
  /** Deliveries so far: n after the nth delivery, 0 while parked behind its key or requeued. */
  readonly attempt: number;
  /** The token of the claim that delivered it last ("" while parked or requeued). */
  readonly token: string;
  /** Held: the lease deadline. Waiting: when the event is visible again. */
  readonly deadline: number;
  /** True while a consumer holds it (until `deadline`); false while it waits (nacked, parked, requeued). */
  readonly held: boolean;
  /** The event's partitionkey, for ordered delivery. */
  readonly key: string | undefined;
}

export interface PartitionDeliveryState {
  /** The next offset never delivered. Every lease is below it. */
  readonly cursor: number;
  /** In offset order, at most one per offset. */
  readonly leases: readonly DeliveryLease[];
}

/** The state of a partition nothing was delivered from yet: the cursor and no lease. */
export function initialState(cursor: number): PartitionDeliveryState {
  return { cursor, leases: [] };
}

/** The index of the lease at `offset` in `leases` (offset order), or -1. */
export function leaseIndex(leases: readonly DeliveryLease[], offset: number): number {
  let low = 0;
  let high = leases.length - 1;
  while (low <= high) {
    const middle = (low + high) >>> 1;
    const at = (leases[middle] as DeliveryLease).offset;
    if (at === offset) return middle;
    if (at < offset) low = middle + 1;
    else high = middle - 1;
  }
  return -1;
}

/** The lease at `offset`, if any. */
export function leaseAt(state: PartitionDeliveryState, offset: number): DeliveryLease | undefined {
  return state.leases[leaseIndex(state.leases, offset)];
}

/** Whether a consumer holds the lease at `now`: held, and its deadline after now. */
export function isHeldAt(lease: DeliveryLease, now: number): boolean {
  return lease.held && lease.deadline > now;
}

/** The keys that have a lease (held or waiting): an ordered claim parks new events of these keys. */
export function busyKeys(leases: readonly DeliveryLease[]): Set<string> {
  const keys = new Set<string>();
  for (const lease of leases) if (lease.key !== undefined) keys.add(lease.key);
  return keys;
}

/** Both lists (each in offset order, no offset in both) as one list in offset order. */
export function mergeLeases(
  a: readonly DeliveryLease[],
  b: readonly DeliveryLease[],
): readonly DeliveryLease[] {
  if (b.length === 0) return a;
  if (a.length === 0) return b;
  const merged: DeliveryLease[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    const left = a[i];
    const right = b[j];
    if (right === undefined || (left !== undefined && left.offset < right.offset)) {
      merged.push(left as DeliveryLease);
      i++;
    } else {
      merged.push(right);
      j++;
    }
  }
  return merged;
}
