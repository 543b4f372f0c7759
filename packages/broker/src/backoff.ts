import type { RetryPolicy } from "@cebus/proto";
import { backoffDelay, retryBand, retrySchedule } from "@cebus/store/delivery";

/**
 * The delay before redelivering an event whose attempt number `attempt` failed: exponential from the minimum,
 * capped at the maximum, with +-jitter as a fraction of the delay. `random` is injectable for tests. The formula
 * lives once, in @cebus/store's delivery rules (delivery/retry.ts); this draws the jitter at random until the
 * consumer moves to the rules' deterministic `retryDelay`.
 */
export function retryDelay(
  policy: RetryPolicy | undefined,
  attempt: number,
  random: () => number = Math.random,
): number {
  return backoffDelay(retrySchedule(policy), attempt, random());
}

/** The least and the most `retryDelay` returns for this attempt: the ends of its jitter band. */
export function retryDelayRange(
  policy: RetryPolicy | undefined,
  attempt: number,
): { min: number; max: number } {
  return retryBand(retrySchedule(policy), attempt);
}
