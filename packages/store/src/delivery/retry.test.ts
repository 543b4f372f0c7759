import { describe, expect, it } from "vitest";
import {
  backoffDelay,
  jitterUnit,
  type RetrySchedule,
  retryBand,
  retryDelay,
  retrySchedule,
} from "./retry.js";

const schedule: RetrySchedule = { minMs: 1000, maxMs: 60_000, multiplier: 2, jitter: 0.1 };
const key = { subscription: "orders", partition: 3, offset: 41, attempt: 2 };

describe("retry schedule", () => {
  it("retry delay - exponential from the minimum, capped at the maximum, without jitter", () => {
    const exact = { ...schedule, jitter: 0 };
    expect([1, 2, 3, 7, 8, 20].map((attempt) => retryDelay(exact, { ...key, attempt }))).toEqual([
      1000, 2000, 4000, 60_000, 60_000, 60_000,
    ]);
  });

  it("retry delay - the same key always gives the same delay, inside the jitter band", () => {
    const delays = Array.from({ length: 3 }, () => retryDelay(schedule, key));
    expect(new Set(delays).size).toBe(1);
    const band = retryBand(schedule, key.attempt);
    expect(band).toEqual({ min: 1800, max: 2200 });
    expect(delays[0]).toBeGreaterThanOrEqual(band.min);
    expect(delays[0]).toBeLessThanOrEqual(band.max);
  });

  it("retry delay - different offsets spread over the jitter band", () => {
    const delays = Array.from({ length: 200 }, (_, offset) => retryDelay(schedule, { ...key, offset }));
    const band = retryBand(schedule, key.attempt);
    expect(Math.min(...delays)).toBeLessThan(band.min + 100);
    expect(Math.max(...delays)).toBeGreaterThan(band.max - 100);
    expect(new Set(delays).size).toBeGreaterThan(100);
  });

  it("jitter unit - FNV-1a then fmix32 of the key, as documented (a Python rewrite gives these values)", () => {
    expect(jitterUnit({ subscription: "s", partition: 0, offset: 0, attempt: 1 })).toBe(0.9246566989459097);
    expect(jitterUnit(key)).toBe(0.25655361893586814);
    expect(jitterUnit(key)).not.toBe(jitterUnit({ ...key, attempt: 3 }));
    expect(jitterUnit(key)).not.toBe(jitterUnit({ ...key, subscription: "orders2" }));
  });

  it("backoff delay - jitter is clamped to [0, max] like the broker's backoff", () => {
    const wide = { minMs: 1000, maxMs: 1000, multiplier: 2, jitter: 1 };
    expect(backoffDelay(wide, 1, 0)).toBe(0);
    expect(backoffDelay(wide, 1, 1)).toBe(1000);
    expect(backoffDelay(wide, 5, 1)).toBe(1000);
  });

  it("retry schedule - a subscription's policy with the broker's defaults", () => {
    expect(retrySchedule(undefined)).toEqual({ minMs: 1000, maxMs: 60_000, multiplier: 2, jitter: 0 });
  });
});
