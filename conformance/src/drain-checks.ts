import type { Anomaly } from "./anomaly.js";
import type { Checker, SubscriptionCounts } from "./check-context.js";

/**
 * `drained`: once every event is acked or dead-lettered, a subscription holds nothing in flight and nothing in its
 * backlog. A lease taken for an event the subscriber never saw (a filtered event leased and never settled) shows
 * as in flight or, once expired, as backlog; so does an event left behind a cursor that moved past it.
 */
export function checkDrained(counts: readonly SubscriptionCounts[]): Anomaly[] {
  return counts
    .filter((c) => c.backlog !== 0 || c.inFlight !== 0)
    .map((c) => ({
      kind: "stats" as const,
      subscription: c.subscription,
      detail: `after the case settled the subscription still reports backlog ${c.backlog} and in flight ${c.inFlight}, expected 0 and 0 (a leaked lease or an event left behind)`,
    }));
}

/** stats: with `drained`, the counts the runner read after the case settled (src/subscription-state.ts). */
export const statsChecker: Checker = {
  family: "stats",
  kinds: ["stats"],
  check: (check) => (check.c.expect.drained && check.counts ? checkDrained(check.counts) : []),
};
