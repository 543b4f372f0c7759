import type { Step, StepKind, StepOf } from "../case.js";
import type { CaseRun } from "../case-context.js";
import { faultStep } from "./fault.js";
import { killAtPublishAckStep } from "./kill-at-publish-ack.js";
import { publishStep } from "./publish.js";
import { readStep } from "./read.js";
import { redriveStep } from "./redrive.js";
import { seekStep } from "./seek.js";
import { subscribeStep, unsubscribeStep } from "./subscribe.js";
import { waitStep } from "./wait.js";

type Handler<K extends StepKind> = (run: CaseRun, step: StepOf<K>) => Promise<void> | void;

/** `mark`: remembers the wall-clock time under a name (for a seek by time, or a background publish to stop at). */
function markStep(run: CaseRun, name: StepOf<"mark">): void {
  run.marks.set(name, Date.now());
}

/** One handler per step kind (src/case.ts documents each kind's fields). */
export const stepHandlers: { readonly [K in StepKind]: Handler<K> } = {
  subscribe: subscribeStep,
  unsubscribe: unsubscribeStep,
  publish: publishStep,
  wait: waitStep,
  fault: faultStep,
  mark: markStep,
  read: readStep,
  seek: seekStep,
  killAtPublishAck: killAtPublishAckStep,
  redrive: redriveStep,
};

/** The kind of a step: the one key of its object that names a handler. */
export function stepKindOf(step: Step): StepKind {
  const kind = (Object.keys(stepHandlers) as StepKind[]).find((k) => k in step);
  if (kind === undefined)
    throw new Error(
      `step ${JSON.stringify(step)} is of no known kind; use one of ${Object.keys(stepHandlers).join(", ")}`,
    );
  return kind;
}

/** Runs one step of the case with its kind's handler. */
export async function runStep(run: CaseRun, step: Step): Promise<void> {
  const kind = stepKindOf(step);
  const handler = stepHandlers[kind] as Handler<typeof kind>;
  await handler(run, (step as Record<StepKind, StepOf<typeof kind>>)[kind]);
}
