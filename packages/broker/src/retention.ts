import { durationMs } from "@cebus/core";
import type { BrokerContext } from "./context.js";

/** Retention: removes events past each topic's age or size limit (and old dedupe entries), now or on a timer. */
export interface Retention {
  /** Applies every topic's retention now. Returns events removed. */
  apply(): Promise<number>;
  stop(): void;
}

async function applyRetention(ctx: BrokerContext): Promise<number> {
  const { store, limits } = ctx;
  let removed = 0;
  const at = ctx.now();
  for (const topic of await store.listTopics()) {
    removed += await store.trim(topic.name, {
      olderThan: at - durationMs(topic.retention, limits.defaultRetentionMs),
      maxBytes: Number(topic.retentionBytes),
      dedupeBefore: at - durationMs(topic.dedupeWindow, limits.defaultDedupeWindowMs),
    });
  }
  if (removed > 0) ctx.logger.info({ removed }, "retention removed events");
  return removed;
}

function runOnTimer(ctx: BrokerContext): void {
  applyRetention(ctx).catch((error: unknown) =>
    ctx.logger.warn({ err: error }, "retention failed; retrying at the next interval"),
  );
}

/** `intervalMs` 0 turns the timer off (apply still works). */
export function createRetention(ctx: BrokerContext, intervalMs: number): Retention {
  const timer = intervalMs > 0 ? setInterval(runOnTimer, intervalMs, ctx) : undefined;
  timer?.unref();
  return {
    apply: () => applyRetention(ctx),
    stop() {
      if (timer) clearInterval(timer);
    },
  };
}
