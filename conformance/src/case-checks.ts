import type { Anomaly } from "./anomaly.js";
import type { CaseContext, CaseRun } from "./case-context.js";
import { checkHistory } from "./checkers.js";
import { historySnapshot } from "./history.js";
import type { SettledState } from "./settle-down.js";
import { subscriptionCounts } from "./subscription-state.js";

/**
 * The checks, once the case settled: reads what the broker reports that the checkers need (the topic's stored
 * events, and with `drained` every subscription's counts), then runs the checkers (src/checkers.ts) over the
 * history as it was when the counts began to be polled (that poll may take seconds; deliveries it sees arrive later
 * are not judged).
 */
export async function checkCase(run: CaseRun, settled: SettledState): Promise<Anomaly[]> {
  const { c } = run;
  const stats =
    c.expect.storedEvents === undefined ? undefined : await run.admin().getTopicStats({ name: run.topic });
  const judged: CaseContext = {
    c,
    topic: run.topic,
    deadLetterTopic: run.deadLetterTopic,
    history: historySnapshot(run.history),
    subscriptions: run.subscriptions,
    subscribers: run.subscribers,
    admin: run.admin,
    published: run.published,
  };
  const counts = c.expect.drained ? await subscriptionCounts(run) : undefined;
  return checkHistory(
    judged,
    settled.dead,
    stats ? Number(stats.stats?.eventCount ?? 0n) : undefined,
    settled.pending,
    counts,
  );
}
