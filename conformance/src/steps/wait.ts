import type { StepOf } from "../case.js";
import type { CaseRun } from "../case-context.js";
import { ackedIds } from "../history-queries.js";
import { deadLettersOf } from "../subscription-state.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * `wait`: sleeps `ms` first, then polls (every 50 ms, up to `timeoutMs` [20 s]) until the history shows the acks,
 * distinct deliveries and total deliveries asked for and the broker reports the dead letters asked for (on one
 * subscription or all of them). Timing out fails the case with what was reached.
 */
export async function waitStep(run: CaseRun, w: StepOf<"wait">): Promise<void> {
  if (w.ms) await sleep(w.ms);
  const deadline = performance.now() + (w.timeoutMs ?? 20_000);
  const spec = w.subscription ? run.subscriptions.get(w.subscription) : undefined;
  for (;;) {
    const entries = run.history.entries;
    const acked = ackedIds(entries, spec?.fullName).size;
    const deliveries = entries.filter(
      (e) => e.op === "deliver" && (!spec || e.subscription === spec.fullName),
    );
    const delivered = new Set(deliveries.map((e) => (e as { id: string }).id)).size;
    let dead = 0;
    if (w.deadLettered !== undefined) {
      for (const s of run.subscriptions.values())
        if (!spec || s === spec) dead += (await deadLettersOf(run, s)).length;
    }
    if (
      (w.acked === undefined || acked >= w.acked) &&
      (w.delivered === undefined || delivered >= w.delivered) &&
      (w.deadLettered === undefined || dead >= w.deadLettered) &&
      (w.deliveries === undefined || deliveries.length >= w.deliveries)
    )
      return;
    if (performance.now() > deadline)
      throw new Error(
        `timed out waiting for ${JSON.stringify(w)} (acked ${acked}, delivered ${delivered}, dead-lettered ${dead})`,
      );
    await sleep(50);
  }
}
