import type { Anomaly } from "./anomaly.js";
import type { CheckContext, Checker, Deliver, Settle, SubscriptionView } from "./check-context.js";
import { type ExcusableAnomaly, excusingFault } from "./excuses.js";
import type { HistoryEntry } from "./history.js";

type Fault = Extract<HistoryEntry, { op: "fault" }>;

/** One subscription's part of the history, for the checks of second copies. */
export interface CopiesInput {
  entries: readonly HistoryEntry[];
  guarantee: string;
  /** The subscription's name in the case (for anomalies) and on the broker (in the history). */
  name: string;
  fullName: string;
  ackDeadlineMs: number;
  delivers: Deliver[];
  settles: Settle[];
  /** Clients killed, and when: a delivery recorded after its client's kill left before it. */
  kills: { client: string; at: number }[];
}

/** Whether the excuse table lets a fault between `from` and `to` excuse this anomaly of this delivery. */
function excused(
  input: CopiesInput,
  anomaly: ExcusableAnomaly,
  d: Deliver,
  from: number,
  to: number,
): boolean {
  return (
    excusingFault(input.entries, {
      anomaly,
      guarantee: input.guarantee,
      from,
      to,
      subscription: input.fullName,
      subscriber: d.subscriber,
    }) !== undefined
  );
}

/** An event is its (source, id): one id from two sources is two events (dedupe is on both). */
const eventOf = (d: Deliver) => `${d.attributes.source ?? ""} ${d.id}`;

function byEvent(delivers: Deliver[]): Map<string, Deliver[]> {
  const map = new Map<string, Deliver[]>();
  for (const d of delivers) map.set(eventOf(d), [...(map.get(eventOf(d)) ?? []), d]);
  return map;
}

/** At most once (at-most-once, or `noDuplicates`): every copy after the first is an anomaly unless excused. */
export function checkDuplicates(input: CopiesInput): Anomaly[] {
  const anomalies: Anomaly[] = [];
  for (const list of byEvent(input.delivers).values()) {
    const id = (list[0] as Deliver).id;
    const unexcused = list.filter(
      (d, i) => i > 0 && !excused(input, "duplicated", d, (list[i - 1] as Deliver).at, d.at),
    );
    if (unexcused.length > 0)
      anomalies.push({
        kind: "duplicated",
        subscription: input.name,
        id,
        detail: `delivered ${list.length} times`,
      });
  }
  return anomalies;
}

/** Confirmed acks: no delivery after an ack that returned OK, unless a seek or redrive in between replays it. */
export function checkRedeliveryAfterAck(input: CopiesInput): Anomaly[] {
  const anomalies: Anomaly[] = [];
  const events = new Map(input.delivers.map((d) => [d.deliveryId, eventOf(d)]));
  const ackedAt = new Map<string, number>();
  for (const s of input.settles) {
    const event = events.get(s.deliveryId) ?? s.id;
    if (s.ok && s.action === "ack" && !ackedAt.has(event)) ackedAt.set(event, s.end);
  }
  for (const d of input.delivers) {
    const at = ackedAt.get(eventOf(d));
    if (at === undefined || d.at <= at || excused(input, "redelivered-after-ack", d, at, d.at)) continue;
    anomalies.push({
      kind: "redelivered-after-ack",
      subscription: input.name,
      id: d.id,
      detail: `attempt ${d.attempt} at ${d.at} ms after the ack confirmed at ${at} ms`,
    });
  }
  return anomalies;
}

/**
 * Clock granularity on the broker's lease times: every store computes a deadline as the broker's `Date.now()` at the
 * claim plus the ack deadline (none reads the backend server's clock), in whole ms, and the brokers of a column share
 * the machine's clock.
 */
const BROKER_CLOCK_TOLERANCE_MS = 5;

/**
 * Whether `next` was leased while `prev` was still held; undefined when not, else how (for the anomaly's detail).
 * On the broker's clock when both carry a lease deadline: next's lease began (its deadline minus the ack deadline)
 * before prev's deadline. The runner's record times are only the fallback (at-most-once, or a client that does not
 * report deadlines): a client's recording latency varies (a page's is ~150 ms under load), so they are compared
 * with 10% of the ack deadline to spare.
 */
function leasedWhileHeld(prev: Deliver, next: Deliver, deadlineMs: number): string | undefined {
  if (prev.leaseDeadline !== undefined && next.leaseDeadline !== undefined) {
    const nextLeased = next.leaseDeadline - deadlineMs;
    if (nextLeased >= prev.leaseDeadline - BROKER_CLOCK_TOLERANCE_MS) return undefined;
    const after = Math.round(nextLeased - (prev.leaseDeadline - deadlineMs));
    return `attempt ${next.attempt} leased ${after} ms after attempt ${prev.attempt} on the broker's clock, ${Math.round(prev.leaseDeadline - nextLeased)} ms before that ${deadlineMs} ms lease ended`;
  }
  if (next.at - prev.at >= deadlineMs * 0.9) return undefined;
  return `attempt ${next.attempt} ${Math.round(next.at - prev.at)} ms after attempt ${prev.attempt}, within the ${deadlineMs} ms lease`;
}

/**
 * A lease is exclusive: no second delivery while the first is held (see leasedWhileHeld), unless the
 * first was settled first (even an ack that failed on the wire), its client was killed before it was recorded,
 * or a fault that the excuse table names for this guarantee came in between. A broker restart, a connection
 * reset or a killed client keep leases until their deadline, so they excuse nothing here.
 */
export function checkDuplicatedWhileLeased(input: CopiesInput): Anomaly[] {
  const anomalies: Anomaly[] = [];
  const deadlineMs = input.ackDeadlineMs;
  for (const list of byEvent(input.delivers).values()) {
    const id = (list[0] as Deliver).id;
    for (let i = 1; i < list.length; i++) {
      const prev = list[i - 1] as Deliver;
      const next = list[i] as Deliver;
      const overlap = leasedWhileHeld(prev, next, deadlineMs);
      if (overlap === undefined) continue;
      const released =
        input.settles.some((s) => s.deliveryId === prev.deliveryId && s.at <= next.at) ||
        input.kills.some((k) => k.client === prev.client && k.at <= prev.at) ||
        excused(input, "duplicated-while-leased", prev, prev.at, next.at);
      if (released) continue;
      const faults = input.entries.filter(
        (x): x is Fault => x.op === "fault" && x.at >= prev.at && x.at <= next.at,
      );
      const during =
        faults.length > 0 ? `; not excused by ${faults.map((f) => f.kind ?? "note").join(", ")}` : "";
      anomalies.push({
        kind: "duplicated-while-leased",
        subscription: input.name,
        id,
        detail: `${overlap}${during}`,
      });
    }
  }
  return anomalies;
}

/** A subscription's part of the history as the second-copy checks read it. */
function copiesOf(check: CheckContext, view: SubscriptionView): CopiesInput {
  return {
    entries: check.entries,
    guarantee: check.c.guarantee,
    name: view.spec.name,
    fullName: view.spec.fullName,
    ackDeadlineMs: view.spec.ackDeadlineMs ?? 30_000,
    delivers: view.delivers,
    settles: view.settles,
    kills: check.kills,
  };
}

/** duplicated: with `noDuplicates` (by default on at-most-once subscriptions), per subscription. */
export const duplicatedChecker: Checker = {
  family: "duplicated",
  kinds: ["duplicated"],
  check: (check) =>
    check.views.flatMap((view) =>
      (check.c.expect.noDuplicates ?? view.spec.mode === "at-most-once")
        ? checkDuplicates(copiesOf(check, view))
        : [],
    ),
};

/** redelivered-after-ack: unless the case sets `noRedeliveryAfterAck: false`, per subscription. */
export const redeliveredAfterAckChecker: Checker = {
  family: "redelivered-after-ack",
  kinds: ["redelivered-after-ack"],
  check: (check) =>
    check.views.flatMap((view) =>
      (check.c.expect.noRedeliveryAfterAck ?? true) ? checkRedeliveryAfterAck(copiesOf(check, view)) : [],
    ),
};

/** duplicated-while-leased: always, per subscription. */
export const duplicatedWhileLeasedChecker: Checker = {
  family: "duplicated-while-leased",
  kinds: ["duplicated-while-leased"],
  check: (check) => check.views.flatMap((view) => checkDuplicatedWhileLeased(copiesOf(check, view))),
};
