import { setTimeout as sleep } from "node:timers/promises";
import { CebusError } from "@cebus/core";
import type { RedisContext } from "./redis-context.js";

/**
 * How delivery operations stay atomic: inside one store instance, operations on the same state keys run one after
 * the other (`exclusive`), so they never conflict with each other and each may start from the state the previous
 * one committed (the cache); across instances (broker processes), the compare-and-set commit detects a change made
 * meanwhile, and the operation runs again on states read fresh from Redis, a bounded number of times.
 */

/** Attempts of an operation whose states keep changing under it, before it gives up. */
export const maxAttempts = 64;

/** What an attempt returns when its commit found a state changed by another instance: it is run again. */
export const conflict: unique symbol = Symbol("conflict");

/**
 * Runs `attempt` holding `keys` in this instance until it commits without a conflict. The first attempt may use
 * cached states (`fresh` false); after a conflict every attempt reads them from Redis. After `maxAttempts`
 * conflicts it fails with `aborted`, which the caller may retry.
 */
export async function optimistic<T>(
  context: RedisContext,
  keys: readonly string[],
  what: string,
  attempt: (fresh: boolean) => Promise<T | typeof conflict>,
): Promise<T> {
  return exclusive(context, keys, async () => {
    for (let tries = 0; tries < maxAttempts; tries++) {
      const result = await attempt(tries > 0);
      if (result !== conflict) return result;
      await sleep(Math.random() * Math.min(2 ** tries, 50)); // spread the contending instances apart
    }
    throw new CebusError(
      "aborted",
      `${what}: the delivery state changed under ${maxAttempts} attempts in a row (other broker processes ` +
        "working on the same subscription partition); retry",
    );
  });
}

/**
 * Runs `run` once every earlier operation of this instance on any of `keys` has finished. All keys are taken at
 * once, in arrival order, so two operations never wait for each other.
 */
export async function exclusive<T>(
  context: RedisContext,
  keys: readonly string[],
  run: () => Promise<T>,
): Promise<T> {
  const unique = [...new Set(keys)];
  const earlier = unique.flatMap((key) => context.holders.get(key) ?? []);
  let release = () => {};
  const mine = new Promise<void>((resolve) => {
    release = resolve;
  });
  for (const key of unique) context.holders.set(key, mine);
  try {
    await Promise.all(earlier);
    return await run();
  } finally {
    release();
    for (const key of unique) if (context.holders.get(key) === mine) context.holders.delete(key);
  }
}
