import type { Anomaly } from "./anomaly.js";
import type { CheckContext, Checker } from "./check-context.js";
import { eventDifference } from "./envelope.js";

/**
 * unexpected: a delivered id nobody published, or one the filter must keep out (`neverDelivered`); a delivered
 * event without the `attributes` the case expects, or other than the event published (`sameEvents`); an id
 * delivered other than `deliveredTimes` says.
 */
export const unexpectedChecker: Checker = {
  family: "unexpected",
  kinds: ["unexpected"],
  check: (check) => [
    ...strangers(check),
    ...wrongAttributes(check),
    ...changedEvents(check),
    ...wrongTimes(check),
  ],
};

function strangers(check: CheckContext): Anomaly[] {
  const attempted = new Set(check.publishes.flatMap((p) => p.ids));
  const anomalies: Anomaly[] = [];
  for (const d of check.delivers) {
    const detail = !attempted.has(d.id)
      ? "delivered but never published"
      : check.never?.test(d.id)
        ? "delivered but excluded by the subscription's filter"
        : undefined;
    if (detail) anomalies.push({ kind: "unexpected", subscription: d.subscription, id: d.id, detail });
  }
  return anomalies;
}

function wrongAttributes(check: CheckContext): Anomaly[] {
  const expected = check.c.expect.attributes;
  if (!expected) return [];
  const anomalies: Anomaly[] = [];
  for (const d of check.delivers) {
    for (const [name, value] of Object.entries(expected)) {
      if (d.attributes[name] !== value)
        anomalies.push({
          kind: "unexpected",
          id: d.id,
          detail: `attribute ${name} is '${d.attributes[name]}', published '${value}'`,
        });
    }
  }
  return anomalies;
}

function changedEvents(check: CheckContext): Anomaly[] {
  if (!check.c.expect.sameEvents) return [];
  const anomalies: Anomaly[] = [];
  for (const d of check.delivers) {
    const published = check.published.get(d.id)?.event;
    if (!published || !d.event) continue;
    const detail = eventDifference(published, d.event);
    if (detail) anomalies.push({ kind: "unexpected", subscription: d.subscription, id: d.id, detail });
  }
  return anomalies;
}

function wrongTimes(check: CheckContext): Anomaly[] {
  const anomalies: Anomaly[] = [];
  for (const rule of check.c.expect.deliveredTimes ?? []) {
    const pattern = new RegExp(rule.ids);
    for (const view of check.views) {
      if (rule.subscription !== undefined && rule.subscription !== view.spec.name) continue;
      for (const id of check.published.keys()) {
        if (!pattern.test(id)) continue;
        const n = view.delivers.filter((d) => d.id === id).length;
        if (n !== rule.times)
          anomalies.push({
            kind: "unexpected",
            subscription: view.spec.name,
            id,
            detail: `delivered ${n} times, expected ${rule.times}`,
          });
      }
    }
  }
  return anomalies;
}

/** attempts: no delivery attempt above `maxAttempt`; the highest attempt on a subscription at least `minMaxAttempt`. */
export const attemptsChecker: Checker = {
  family: "attempts",
  kinds: ["attempts"],
  check: (check) => {
    const e = check.c.expect;
    const anomalies: Anomaly[] = [];
    for (const { spec, delivers } of check.views) {
      if (e.maxAttempt !== undefined) {
        for (const d of delivers)
          if (d.attempt > e.maxAttempt)
            anomalies.push({
              kind: "attempts",
              subscription: spec.name,
              id: d.id,
              detail: `attempt ${d.attempt} > ${e.maxAttempt}`,
            });
      }
      if (e.minMaxAttempt !== undefined && delivers.length > 0) {
        const highest = Math.max(...delivers.map((d) => d.attempt));
        if (highest < e.minMaxAttempt)
          anomalies.push({
            kind: "attempts",
            subscription: spec.name,
            detail: `highest attempt ${highest}, expected at least ${e.minMaxAttempt}`,
          });
      }
    }
    return anomalies;
  },
};

/** position: with `stablePositions`, every delivery of an id carries the partition and offset its publish returned. */
export const positionChecker: Checker = {
  family: "position",
  kinds: ["position"],
  check: (check) => {
    if (!check.c.expect.stablePositions) return [];
    const anomalies: Anomaly[] = [];
    for (const d of check.delivers) {
      const p = check.published.get(d.id);
      if (p && (p.partition !== d.partition || p.offset !== d.offset))
        anomalies.push({
          kind: "position",
          subscription: d.subscription,
          id: d.id,
          detail: `delivered at ${d.partition}/${d.offset}, published at ${p.partition}/${p.offset}`,
        });
    }
    return anomalies;
  },
};

/** stored: the topic stores `storedEvents` events at the end. */
export const storedChecker: Checker = {
  family: "stored",
  kinds: ["stored"],
  check: (check) => {
    const expected = check.c.expect.storedEvents;
    if (expected === undefined || check.storedEvents === expected) return [];
    return [{ kind: "stored", detail: `${check.storedEvents} events stored, expected ${expected}` }];
  },
};

/** balance: with `everySubscriberDelivered`, every subscriber of the case received something. */
export const balanceChecker: Checker = {
  family: "balance",
  kinds: ["balance"],
  check: (check) => {
    if (!check.c.expect.everySubscriberDelivered) return [];
    return [...check.subscribers.keys()]
      .filter((name) => !check.delivers.some((d) => d.subscriber === name))
      .map((name) => ({ kind: "balance" as const, detail: `subscriber ${name} received nothing` }));
  },
};
