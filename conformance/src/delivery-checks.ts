import type { Anomaly } from "./anomaly.js";
import { type CheckContext, type Checker, expectedOn, type SubscriptionView } from "./check-context.js";
import { ambiguousAcks } from "./history-queries.js";

/**
 * lost: every acknowledged publish must reach each subscription that should get it (unless the case expects the
 * publishes to fail, or the subscription is at-most-once) and end acked or dead-lettered there. An ack whose
 * confirmation was lost counts as done only if the broker holds nothing unacked for the subscription at the end.
 */
export const lostChecker: Checker = {
  family: "lost",
  kinds: ["lost"],
  check: (check) => {
    const e = check.c.expect;
    if (!(e.allDelivered ?? !e.publishError)) return [];
    return check.views.flatMap((view) => (view.spec.mode === "at-most-once" ? [] : lostOn(check, view)));
  },
};

function lostOn(check: CheckContext, view: SubscriptionView): Anomaly[] {
  const { spec } = view;
  const unsure = ambiguousAcks(check.entries, spec.fullName);
  const held = check.pending.get(spec.fullName) ?? 0;
  const finished = new Set([
    ...view.settles.filter((s) => s.ok && (s.action === "ack" || s.action === "term")).map((s) => s.id),
    ...view.deadIds,
    ...(held === 0 ? unsure : []),
  ]);
  const anomalies: Anomaly[] = [];
  for (const id of check.published.keys()) {
    if (!expectedOn(check, spec, id) || finished.has(id)) continue;
    const seen = view.delivers.filter((d) => d.id === id).length;
    const detail = !seen
      ? "acknowledged publish never delivered"
      : unsure.has(id)
        ? `its ack failed on the wire and it was never redelivered, while the broker still holds ${held} unacked event(s)`
        : `delivered ${seen} time(s) but never acked or dead-lettered`;
    anomalies.push({ kind: "lost", subscription: spec.name, id, detail });
  }
  return anomalies;
}

/**
 * reordered: on an ordered subscription (or with `keyOrder`), the next event of a key is delivered only after the
 * previous one (in offset order) was acked or dead-lettered.
 */
export const reorderedChecker: Checker = {
  family: "reordered",
  kinds: ["reordered"],
  check: (check) =>
    check.views.flatMap((view) =>
      (check.c.expect.keyOrder ?? view.spec.ordered) ? reorderedOn(check, view) : [],
    ),
};

function reorderedOn(check: CheckContext, view: SubscriptionView): Anomaly[] {
  const { spec } = view;
  const keys = new Map<string, string[]>();
  for (const [id, p] of [...check.published].sort((a, b) => a[1].offset - b[1].offset)) {
    if (p.key !== undefined && expectedOn(check, spec, id)) keys.set(p.key, [...(keys.get(p.key) ?? []), id]);
  }
  const finishedAt = new Map<string, number>();
  for (const s of view.settles)
    if (s.ok && (s.action === "ack" || s.action === "term") && !finishedAt.has(s.id))
      finishedAt.set(s.id, s.at);
  // an ack whose outcome is unknown may have been applied when it was sent (the lost check covers the rest)
  const unsure = ambiguousAcks(check.entries, spec.fullName);
  for (const s of view.settles)
    if (s.action === "ack" && unsure.has(s.id) && !finishedAt.has(s.id)) finishedAt.set(s.id, s.at);
  const anomalies: Anomaly[] = [];
  for (const [key, ids] of keys) {
    for (let k = 1; k < ids.length; k++) {
      const previous = ids[k - 1] as string;
      const first = view.delivers.find((d) => d.id === ids[k]);
      if (!first) continue;
      const done = finishedAt.get(previous);
      if ((done === undefined || done > first.at) && !view.deadIds.includes(previous))
        anomalies.push({
          kind: "reordered",
          subscription: spec.name,
          id: first.id,
          detail: `key ${key}: delivered before ${previous} was acked or dead-lettered`,
        });
    }
  }
  return anomalies;
}

/** processed: with `exactlyOnceProcessing`, each acknowledged event handled (not redundant) exactly once per subscription. */
export const processedChecker: Checker = {
  family: "processed",
  kinds: ["processed"],
  check: (check) => {
    if (!check.c.expect.exactlyOnceProcessing) return [];
    const anomalies: Anomaly[] = [];
    for (const view of check.views) {
      const processed = new Map<string, number>();
      for (const d of view.delivers) if (!d.redundant) processed.set(d.id, (processed.get(d.id) ?? 0) + 1);
      for (const id of check.published.keys()) {
        const n = processed.get(id) ?? 0;
        if (n !== 1)
          anomalies.push({
            kind: "processed",
            subscription: view.spec.name,
            id,
            detail: `processed ${n} times, expected exactly once`,
          });
      }
    }
    return anomalies;
  },
};
