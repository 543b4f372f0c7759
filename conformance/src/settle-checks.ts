import type { Anomaly } from "./anomaly.js";
import type { ConformanceCase, SubscriptionSpec } from "./case.js";
import type { Checker, Deliver, Settle } from "./check-context.js";

/** The case's subscriptions, with their full names as the history records them. */
type Specs = Iterable<SubscriptionSpec & { fullName: string }>;

/** Settles the case sent on purpose with a delivery id that is no longer valid, and each one's expected failure. */
interface Refusal {
  kind: Anomaly["kind"];
  what: string;
  code: string;
  settles: Settle[];
}

/** The settles the case sent that must fail, per expectation: stale delivery ids, expired leases, second settles. */
function refusals(c: ConformanceCase, specs: Specs, delivers: Deliver[], settles: Settle[]): Refusal[] {
  const e = c.expect;
  const list: Refusal[] = [];
  if (e.staleAckRejected)
    list.push({
      kind: "stale-ack",
      what: "settle with a stale delivery id",
      code: e.staleAckRejected,
      settles: settles.filter((s) => s.action.startsWith("stale-")),
    });
  if (e.lateSettleRejected) {
    // late on the runner's clock is late on the broker's too: the lease began before the delivery arrived here
    const arrived = new Map(delivers.map((d) => [`${d.subscription} ${d.deliveryId}`, d.at]));
    const deadlines = new Map([...specs].map((x) => [x.fullName, x.ackDeadlineMs ?? 30_000]));
    const deadlineOf = (s: Settle) => deadlines.get(s.subscription) ?? 30_000;
    list.push({
      kind: "late-settle",
      what: "settle after its lease deadline",
      code: e.lateSettleRejected,
      settles: settles.filter(
        (s) =>
          (s.action === "ack" || s.action === "nack" || s.action === "term") &&
          s.at - (arrived.get(`${s.subscription} ${s.deliveryId}`) ?? s.at) > deadlineOf(s),
      ),
    });
  }
  if (e.repeatSettleRejected)
    list.push({
      kind: "repeat-settle",
      what: "second settle of one message",
      code: e.repeatSettleRejected,
      settles: settles.filter((s) => s.action === "repeat-ack"),
    });
  return list;
}

/**
 * Settles that must be refused are refused with the expected code: an ack with a stale delivery id, one sent after
 * the lease expired (before or after the event came back), and a second settle of a message already settled. An
 * expectation with nothing to judge is itself an anomaly: the case never got to the point it tests.
 */
export function checkSettleAnswers(
  c: ConformanceCase,
  specs: Specs,
  delivers: Deliver[],
  settles: Settle[],
): Anomaly[] {
  const anomalies: Anomaly[] = [];
  for (const r of refusals(c, specs, delivers, settles)) {
    if (r.settles.length === 0) anomalies.push({ kind: r.kind, detail: `the case sent no ${r.what}` });
    for (const s of r.settles) {
      if (s.ok)
        anomalies.push({
          kind: r.kind,
          id: s.id,
          detail: `a ${r.what} (${s.action} ${s.deliveryId}) succeeded`,
        });
      else if (!s.error?.startsWith(r.code))
        anomalies.push({
          kind: r.kind,
          id: s.id,
          detail: `a ${r.what} failed with '${s.error}', expected ${r.code}`,
        });
    }
  }
  return anomalies;
}

/** stale-ack, late-settle, repeat-settle: the settles the case's policies sent to be refused. */
export const settleRefusalsChecker: Checker = {
  family: "settle-refusals",
  kinds: ["stale-ack", "late-settle", "repeat-settle"],
  check: (check) =>
    checkSettleAnswers(
      check.c,
      check.views.map((v) => v.spec),
      check.delivers,
      check.settles,
    ),
};
