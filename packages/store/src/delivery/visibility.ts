import { type RetrySchedule, retryDelay } from "./retry.js";
import type { DeliveryLease } from "./state.js";

/** What decides when a lease that is not held any more can be claimed again. */
export interface ExpiryPolicy {
  subscription: string;
  partition: number;
  /** The subscription's retry schedule; an expired lease waits its delay. Unset: visible at the deadline. */
  retry?: RetrySchedule | undefined;
}

/**
 * When the event of a lease can be claimed again. A waiting lease (nacked, parked, requeued): at its deadline. A
 * held lease: once it expired, after the retry delay of its attempt, like a nack without a delay, so the instant
 * is the same whichever claim (or consumer) looks first.
 */
export function visibleAt(lease: DeliveryLease, policy: ExpiryPolicy): number {
  if (!lease.held) return lease.deadline;
  return lease.deadline + expiryDelay(lease, policy);
}

function expiryDelay(lease: DeliveryLease, policy: ExpiryPolicy): number {
  if (!policy.retry) return 0;
  const { subscription, partition } = policy;
  return retryDelay(policy.retry, { subscription, partition, offset: lease.offset, attempt: lease.attempt });
}
