import { CebusError } from "@cebus/core";

/**
 * Publishes refused for load: the broker answers resource_exhausted with a retry hint when it holds too much that
 * its store has not stored yet. A publish is safe to send again (the broker's dedupe on source and id), so the
 * client waits the hint (with ±50% jitter, so refused clients do not all come back at once) and tries again,
 * waiting `budgetMs` at most in all; then the last refusal is the caller's.
 */
export async function retryWhileExhausted<T>(
  run: () => Promise<T>,
  budgetMs: number,
  sleep: (ms: number) => Promise<void> = (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
): Promise<T> {
  let waited = 0;
  for (;;) {
    try {
      return await run();
    } catch (error) {
      if (!(error instanceof CebusError) || error.code !== "resource_exhausted") throw error;
      const wait = (error.retryAfterMs ?? 100) * (0.5 + Math.random());
      if (waited + wait > budgetMs) throw error;
      waited += wait;
      await sleep(wait);
    }
  }
}
