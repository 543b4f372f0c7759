import type { Anomaly } from "./anomaly.js";
import type { CheckContext, Checker, SubscriptionView } from "./check-context.js";

/**
 * dead-letter-missing / -early / -duplicate: on every dead-lettering subscription each event is dead-lettered at
 * most once and not before its attempts ran out (a term excepted), with the attempts and reason the case expects;
 * and the case's `deadLettered.count` events end there, across subscriptions.
 */
export const deadLetterChecker: Checker = {
  family: "dead-letter",
  kinds: ["dead-letter-duplicate", "dead-letter-early", "dead-letter-missing"],
  check: (check) => {
    const anomalies = check.views.flatMap((view) => (view.spec.deadLetter ? deadLettersOn(check, view) : []));
    const expected = check.c.expect.deadLettered;
    if (expected) {
      const total = [...check.dead.values()].reduce((n, r) => n + new Set(r.map((x) => x.id)).size, 0);
      if (total !== expected.count)
        anomalies.push({
          kind: "dead-letter-missing",
          detail: `${total} event(s) dead-lettered, expected ${expected.count}`,
        });
    }
    return anomalies;
  },
};

function deadLettersOn(check: CheckContext, view: SubscriptionView): Anomaly[] {
  const { spec } = view;
  const expected = check.c.expect.deadLettered;
  const anomalies: Anomaly[] = [];
  const seen = new Map<string, number>();
  for (const id of view.deadIds) seen.set(id, (seen.get(id) ?? 0) + 1);
  for (const [id, n] of seen)
    if (n > 1)
      anomalies.push({
        kind: "dead-letter-duplicate",
        subscription: spec.name,
        id,
        detail: `dead-lettered ${n} times`,
      });
  for (const record of check.dead.get(spec.fullName) ?? []) {
    const tries = view.delivers.filter((d) => d.id === record.id).length;
    if (spec.maxAttempts && record.reason !== "conformance term" && tries < spec.maxAttempts)
      anomalies.push({
        kind: "dead-letter-early",
        subscription: spec.name,
        id: record.id,
        detail: `dead-lettered after ${tries} deliveries; max attempts is ${spec.maxAttempts}`,
      });
    if (expected?.attempts !== undefined && record.attempts !== expected.attempts)
      anomalies.push({
        kind: "dead-letter-early",
        subscription: spec.name,
        id: record.id,
        detail: `deliveryattempts ${record.attempts}, expected ${expected.attempts}`,
      });
    if (expected?.reason && !record.reason.includes(expected.reason))
      anomalies.push({
        kind: "dead-letter-missing",
        subscription: spec.name,
        id: record.id,
        detail: `reason '${record.reason}', expected '${expected.reason}'`,
      });
  }
  return anomalies;
}
