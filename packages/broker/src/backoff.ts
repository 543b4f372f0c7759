import type { RetryPolicy } from "@cebus/proto";
import { backoffDelay, retrySchedule } from "@cebus/store/delivery";

/**
 * The delay before redelivering an event whose attempt number `attempt` failed: exponential from the minimum,
 * capped at the maximum, with +-jitter as a fraction of the delay. `random` is injectable for tests. The formula
 * lives once, in @cebus/store's delivery rules (delivery/retry.ts). Used for a nack's backoff, whose instant the
 * store is given (`until`); expiry uses the rules' deterministic `retryDelay` (consumer.ts).
 */
export function retryDelay(
  policy: RetryPolicy | undefined,
  attempt: number,
  random: () => number = Math.random,
): number {
  return backoffDelay(retrySchedule(policy), attempt, random());
}
