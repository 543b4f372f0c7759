import type { DeadLetterRecord } from "./anomaly.js";
import type { CaseContext, CaseSubscription } from "./case-context.js";
import type { SubscriptionCounts } from "./check-context.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The events the broker dead-lettered for a subscription (none when it has no dead-letter topic). */
export async function deadLettersOf(ctx: CaseContext, spec: CaseSubscription): Promise<DeadLetterRecord[]> {
  if (!spec.deadLetter) return [];
  const { deadLetters } = await ctx.admin().listDeadLetters({ subscription: spec.fullName, limit: 10_000 });
  return deadLetters.map((d) => ({ id: d.event?.id ?? "", attempts: d.attempts, reason: d.reason }));
}

/** Unacked events the broker still holds for a subscription (backlog + in flight). */
export async function pendingOf(ctx: CaseContext, spec: CaseSubscription): Promise<number> {
  const { stats } = await ctx.admin().getSubscriptionStats({ name: spec.fullName });
  return Number((stats?.backlog ?? 0n) + (stats?.inFlight ?? 0n));
}

/**
 * Every subscription's backlog and in-flight count as the broker reports them, read until all are zero or for up
 * to 5 s past the longest ack deadline (a consumer may still be passing over filtered events published last).
 */
export async function subscriptionCounts(ctx: CaseContext): Promise<SubscriptionCounts[]> {
  const longest = Math.max(0, ...[...ctx.subscriptions.values()].map((s) => s.ackDeadlineMs ?? 0));
  const deadline = performance.now() + longest + 5000;
  for (;;) {
    const counts: SubscriptionCounts[] = [];
    for (const spec of ctx.subscriptions.values()) {
      const { stats } = await ctx.admin().getSubscriptionStats({ name: spec.fullName });
      const backlog = Number(stats?.backlog ?? 0n);
      counts.push({ subscription: spec.fullName, backlog, inFlight: Number(stats?.inFlight ?? 0n) });
    }
    const drained = counts.every((count) => count.backlog === 0 && count.inFlight === 0);
    if (drained || performance.now() > deadline) return counts;
    await sleep(200);
  }
}
