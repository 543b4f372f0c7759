import type { StepOf } from "../case.js";
import type { CaseRun } from "../case-context.js";

/**
 * `redrive`: the subscription's dead letters are delivered again. Recorded first as a fault of kind `redrive`
 * (scoped to the subscription): redeliveries of acked or dead-lettered events are expected from here on.
 */
export async function redriveStep(run: CaseRun, r: StepOf<"redrive">): Promise<void> {
  const spec = run.subscriptions.get(r.subscription);
  run.history.add({
    op: "fault",
    at: run.history.now(),
    fault: `redrive ${r.subscription}`,
    kind: "redrive",
    subscription: spec?.fullName,
  });
  await run.admin().redriveDeadLetters({ subscription: spec?.fullName ?? "" });
}
