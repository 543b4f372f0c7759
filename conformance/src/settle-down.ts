import type { DeadLetterRecord } from "./anomaly.js";
import { quietPeriodMs } from "./case.js";
import type { CaseRun } from "./case-context.js";
import { ackedIds, ambiguousAcks } from "./history-queries.js";
import { deadLettersOf, pendingOf } from "./subscription-state.js";

/** What the broker reported per subscription once the case went quiet. */
export interface SettledState {
  /** full subscription name -> its dead letters */
  dead: Map<string, DeadLetterRecord[]>;
  /** full subscription name -> unacked events held, for subscriptions with an ack lost on the wire */
  pending: Map<string, number>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * After the steps: waits for the background publishes, then (polling every 100 ms, for at most half the case's
 * timeout and 20 s) until every expected event reached its end, then watches a quiet period for late redeliveries
 * and second dead letters, so the checks judge a settled history.
 */
export async function settleDown(run: CaseRun): Promise<SettledState> {
  const { c } = run;
  await Promise.all(run.background);
  const state: SettledState = { dead: new Map(), pending: new Map() };
  const deadline = performance.now() + Math.min(20_000, c.timeoutMs / 2);
  for (;;) {
    const done = await allFinished(run, state);
    if (done || performance.now() > deadline) break;
    await sleep(100);
  }
  await sleep(quietPeriodMs(c)); // late redeliveries and second dead letters would show up here
  for (const spec of run.subscriptions.values()) {
    state.dead.set(spec.fullName, await deadLettersOf(run, spec));
    if (state.pending.has(spec.fullName)) state.pending.set(spec.fullName, await pendingOf(run, spec));
  }
  return state;
}

/**
 * One look at the broker and the history (updating `state`): is every acknowledged publish acked, dead-lettered or
 * (for an ack lost on the wire, with nothing left on the broker) done on every subscription that must get it, and
 * are the dead letters the case expects there?
 */
async function allFinished(run: CaseRun, state: SettledState): Promise<boolean> {
  const { c, history } = run;
  const never = c.expect.neverDelivered ? new RegExp(c.expect.neverDelivered) : undefined;
  let done = true;
  for (const spec of run.subscriptions.values()) {
    state.dead.set(spec.fullName, await deadLettersOf(run, spec));
    if (!(c.expect.allDelivered ?? !c.expect.publishError) || spec.mode === "at-most-once") continue;
    // an ack whose confirmation was lost may have been applied: then the broker holds nothing for it
    const ambiguous = ambiguousAcks(history.entries, spec.fullName);
    if (ambiguous.size > 0) {
      state.pending.set(spec.fullName, await pendingOf(run, spec));
      if (state.pending.get(spec.fullName) !== 0) done = false;
    }
    const finished = new Set([
      ...ackedIds(history.entries, spec.fullName),
      ...(state.dead.get(spec.fullName) ?? []).map((r) => r.id),
      ...ambiguous,
    ]);
    for (const id of run.published.keys()) {
      if (never?.test(id)) continue;
      if (spec.expectIds && !new RegExp(spec.expectIds).test(id)) continue;
      if (!finished.has(id)) done = false;
    }
  }
  if (c.expect.deadLettered) {
    const total = [...state.dead.values()].reduce((n, ids) => n + ids.length, 0);
    if (total < c.expect.deadLettered.count) done = false;
  }
  return done;
}
