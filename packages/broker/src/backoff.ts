import { durationMs } from "@cebus/core";
import type { RetryPolicy } from "@cebus/proto";

/**
 * The delay before redelivering an event whose attempt number `attempt` failed: exponential from the minimum,
 * capped at the maximum, with +-jitter as a fraction of the delay. `random` is injectable for tests.
 */
export function retryDelay(
  policy: RetryPolicy | undefined,
  attempt: number,
  random: () => number = Math.random,
): number {
  const min = durationMs(policy?.minimumBackoff, 1000);
  const max = durationMs(policy?.maximumBackoff, 60_000);
  const multiplier = policy?.multiplier || 2;
  const jitter = policy?.jitter ?? 0;
  const base = Math.min(max, min * multiplier ** Math.max(0, attempt - 1));
  const spread = base * jitter * (2 * random() - 1);
  return Math.max(0, Math.min(max, Math.round(base + spread)));
}

/** The least and the most `retryDelay` returns for this attempt: the ends of its jitter band. */
export function retryDelayRange(
  policy: RetryPolicy | undefined,
  attempt: number,
): { min: number; max: number } {
  return { min: retryDelay(policy, attempt, () => 0), max: retryDelay(policy, attempt, () => 1) };
}
