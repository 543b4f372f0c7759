import { durationMs } from "@cebus/core";
import type { RetryPolicy } from "@cebus/proto";

/**
 * The retry policy as data: the delay before an event is delivered again after its attempt n failed (nacked
 * without a delay, or its lease expired) is `min * multiplier^(n-1)`, capped at `max`, plus or minus `jitter` (a
 * fraction of the delay), then clamped to [0, max].
 *
 * The jitter is not random: it comes from a hash of (subscription, partition, offset, attempt), so every backend,
 * every broker process and the consumer compute the same redelivery instant for the same lease.
 */
export interface RetrySchedule {
  minMs: number;
  maxMs: number;
  multiplier: number;
  /** 0..1: the fraction of the delay added or removed. */
  jitter: number;
}

/** Which delivery a delay is for: the jitter is a function of these four and nothing else. */
export interface RetryKey {
  subscription: string;
  partition: number;
  offset: number;
  /** The attempt that failed (1 after the first delivery). */
  attempt: number;
}

/** The schedule of a subscription's retry policy, with the broker's defaults (1 s, 60 s, x2, no jitter). */
export function retrySchedule(policy: RetryPolicy | undefined): RetrySchedule {
  return {
    minMs: durationMs(policy?.minimumBackoff, 1000),
    maxMs: durationMs(policy?.maximumBackoff, 60_000),
    multiplier: policy?.multiplier || 2,
    jitter: policy?.jitter ?? 0,
  };
}

/**
 * The delay after a failed `attempt` for a jitter draw `unit` in [0, 1]: 0 gives the low end of the jitter band,
 * 0.5 the delay without jitter, 1 the high end.
 */
export function backoffDelay(schedule: RetrySchedule, attempt: number, unit: number): number {
  const base = Math.min(schedule.maxMs, schedule.minMs * schedule.multiplier ** Math.max(0, attempt - 1));
  const spread = base * schedule.jitter * (2 * unit - 1);
  return Math.max(0, Math.min(schedule.maxMs, Math.round(base + spread)));
}

/** The delay before the event of `key` is delivered again: the same in every process, for the same key. */
export function retryDelay(schedule: RetrySchedule, key: RetryKey): number {
  return backoffDelay(schedule, key.attempt, jitterUnit(key));
}

/** The least and the most `retryDelay` gives for this attempt: the ends of its jitter band. */
export function retryBand(schedule: RetrySchedule, attempt: number): { min: number; max: number } {
  return { min: backoffDelay(schedule, attempt, 0), max: backoffDelay(schedule, attempt, 1) };
}

const encoder = new TextEncoder();

/**
 * The jitter draw of a key, in [0, 1): FNV-1a (32 bit) over the UTF-8 bytes of
 * `subscription \n partition \n offset \n attempt` (numbers in decimal), then the murmur3 32-bit finalizer, divided
 * by 2^32. Simple to write again in any language (Lua, Go) that must agree with it.
 */
export function jitterUnit(key: RetryKey): number {
  const bytes = encoder.encode(`${key.subscription}\n${key.partition}\n${key.offset}\n${key.attempt}`);
  let hash = 0x811c9dc5;
  for (const byte of bytes) hash = Math.imul(hash ^ byte, 0x01000193);
  return finalize(hash) / 0x1_0000_0000;
}

/** murmur3's fmix32: spreads FNV's low-entropy high bits, so near keys get unrelated draws. */
function finalize(value: number): number {
  let h = value >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}
