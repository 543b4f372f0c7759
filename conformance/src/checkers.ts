import type { HistoryEntry } from "./history.js";
import { checkDuplicatedWhileLeased, checkDuplicates, checkRedeliveryAfterAck } from "./lease-checks.js";
import { checkPublishes } from "./publish-checks.js";
import type { CaseContext } from "./run-case.js";
import { checkSettleAnswers } from "./settle-checks.js";
import { checkRetryTiming } from "./timing.js";

/** Something the history shows that the guarantee forbids. */
export interface Anomaly {
  kind:
    | "lost"
    | "duplicated"
    | "redelivered-after-ack"
    | "duplicated-while-leased"
    | "reordered"
    | "unexpected"
    | "dead-letter-missing"
    | "dead-letter-duplicate"
    | "dead-letter-early"
    | "backoff"
    | "nack-delay"
    | "attempts"
    | "publish"
    | "stored"
    | "balance"
    | "processed"
    | "stale-ack"
    | "late-settle"
    | "repeat-settle"
    | "stats"
    | "position";
  subscription?: string;
  id?: string;
  detail: string;
}

export interface DeadLetterRecord {
  id: string;
  attempts: number;
  reason: string;
}

type Deliver = Extract<HistoryEntry, { op: "deliver" }>;
type Settle = Extract<HistoryEntry, { op: "settle" }>;
type Publish = Extract<HistoryEntry, { op: "publish" }>;

/**
 * Ids whose ack failed on the wire (the connection broke before the broker confirmed): the broker may or may not
 * have applied it. They count as finished only if the broker holds nothing unacked for the subscription at the end.
 */
export function ambiguousAcks(entries: HistoryEntry[], subscription: string): Set<string> {
  const confirmed = new Set<string>();
  const unsure = new Set<string>();
  for (const e of entries) {
    if (e.op !== "settle" || e.subscription !== subscription || e.action !== "ack") continue;
    if (e.ok) confirmed.add(e.id);
    else if (/^(unavailable|deadline_exceeded|canceled|unknown)/.test(e.error ?? "")) unsure.add(e.id);
  }
  for (const id of confirmed) unsure.delete(id);
  return unsure;
}

const LIMIT = 20; // anomalies listed per kind; the count says the rest

/** Checks a case's history against its guarantees and expectations. */
export function checkHistory(
  ctx: CaseContext,
  dead: Map<string, DeadLetterRecord[]>,
  storedEvents: number | undefined,
  pending: Map<string, number> = new Map(),
): Anomaly[] {
  const { c, history } = ctx;
  const e = c.expect;
  const anomalies: Anomaly[] = [];
  const add = (a: Anomaly) => {
    if (anomalies.filter((x) => x.kind === a.kind).length < LIMIT) anomalies.push(a);
  };
  const delivers = history.entries.filter((x): x is Deliver => x.op === "deliver");
  const settles = history.entries.filter((x): x is Settle => x.op === "settle");
  const publishes = history.entries.filter((x): x is Publish => x.op === "publish");
  const faults = history.entries.filter((x) => x.op === "fault").map((x) => x.at);
  // Deliveries recorded after their client was killed were on their way when it died: their leases began before the
  // kill, at a time the history cannot show, so they are not held to the lease window.
  const kills = history.entries.flatMap((x) =>
    x.op === "fault" && x.killed ? [{ client: x.killed, at: x.at }] : [],
  );
  const attempted = new Set(publishes.flatMap((p) => p.ids));
  const never = e.neverDelivered ? new RegExp(e.neverDelivered) : undefined;

  // unexpected: delivered ids nobody published, or ids the filter must keep out
  for (const d of delivers) {
    if (!attempted.has(d.id))
      add({
        kind: "unexpected",
        subscription: d.subscription,
        id: d.id,
        detail: "delivered but never published",
      });
    else if (never?.test(d.id))
      add({
        kind: "unexpected",
        subscription: d.subscription,
        id: d.id,
        detail: "delivered but excluded by the subscription's filter",
      });
  }

  if (e.attributes) {
    for (const d of delivers) {
      for (const [name, value] of Object.entries(e.attributes)) {
        if (d.attributes[name] !== value)
          add({
            kind: "unexpected",
            id: d.id,
            detail: `attribute ${name} is '${d.attributes[name]}', published '${value}'`,
          });
      }
    }
  }

  for (const spec of ctx.subscriptions.values()) {
    const sub = spec.fullName;
    const mine = delivers.filter((d) => d.subscription === sub);
    const mySettles = settles.filter((s) => s.subscription === sub);
    const deadIds = (dead.get(sub) ?? []).map((r) => r.id);
    const atMostOnce = spec.mode === "at-most-once";

    // lost: every acknowledged publish must reach the subscription and end acked or dead-lettered
    if ((e.allDelivered ?? !e.publishError) && !atMostOnce) {
      const unsure = ambiguousAcks(history.entries, sub);
      const held = pending.get(sub) ?? 0;
      const finished = new Set([
        ...mySettles.filter((s) => s.ok && (s.action === "ack" || s.action === "term")).map((s) => s.id),
        ...deadIds,
        ...(held === 0 ? unsure : []),
      ]);
      for (const id of ctx.published.keys()) {
        if (never?.test(id) || (spec.expectIds && !new RegExp(spec.expectIds).test(id))) continue;
        if (!finished.has(id)) {
          const seen = mine.filter((d) => d.id === id).length;
          const detail = !seen
            ? "acknowledged publish never delivered"
            : unsure.has(id)
              ? `its ack failed on the wire and it was never redelivered, while the broker still holds ${held} unacked event(s)`
              : `delivered ${seen} time(s) but never acked or dead-lettered`;
          add({ kind: "lost", subscription: spec.name, id, detail });
        }
      }
    }

    // second copies: at most once, none after a confirmed ack, none while leased (src/lease-checks.ts); a fault
    // excuses one only where the excuse table (src/excuses.ts) says so for this guarantee
    const copies = {
      entries: history.entries,
      guarantee: c.guarantee,
      name: spec.name,
      fullName: sub,
      ackDeadlineMs: spec.ackDeadlineMs ?? 30_000,
      delivers: mine,
      settles: mySettles,
      kills,
    };
    if (e.noDuplicates ?? atMostOnce) for (const a of checkDuplicates(copies)) add(a);
    if (e.noRedeliveryAfterAck ?? true) for (const a of checkRedeliveryAfterAck(copies)) add(a);
    for (const a of checkDuplicatedWhileLeased(copies)) add(a);

    // ordered: the next event of a key only after the previous one was acked or dead-lettered
    if (e.keyOrder ?? spec.ordered) {
      const keys = new Map<string, string[]>();
      for (const [id, p] of [...ctx.published].sort((a, b) => a[1].offset - b[1].offset)) {
        const filteredOut =
          never?.test(id) || (spec.expectIds !== undefined && !new RegExp(spec.expectIds).test(id));
        if (p.key !== undefined && !filteredOut) keys.set(p.key, [...(keys.get(p.key) ?? []), id]);
      }
      const finishedAt = new Map<string, number>();
      for (const s of mySettles)
        if (s.ok && (s.action === "ack" || s.action === "term") && !finishedAt.has(s.id))
          finishedAt.set(s.id, s.at);
      // an ack whose outcome is unknown may have been applied when it was sent (the lost check covers the rest)
      const unsure = ambiguousAcks(history.entries, sub);
      for (const s of mySettles)
        if (s.action === "ack" && unsure.has(s.id) && !finishedAt.has(s.id)) finishedAt.set(s.id, s.at);
      for (const [key, ids] of keys) {
        for (let k = 1; k < ids.length; k++) {
          const previous = ids[k - 1] as string;
          const first = mine.find((d) => d.id === ids[k]);
          if (!first) continue;
          const done = finishedAt.get(previous);
          const deadLettered = deadIds.includes(previous);
          if ((done === undefined || done > first.at) && !deadLettered) {
            add({
              kind: "reordered",
              subscription: spec.name,
              id: first.id,
              detail: `key ${key}: delivered before ${previous} was acked or dead-lettered`,
            });
          }
        }
      }
    }

    // retry timing: nack delays, backoff after nacks and after expired leases, at every attempt, both directions
    for (const a of checkRetryTiming({ c, spec, delivers: mine, settles: mySettles, faults, kills })) add(a);

    if (e.maxAttempt !== undefined) {
      for (const d of mine)
        if (d.attempt > e.maxAttempt)
          add({
            kind: "attempts",
            subscription: spec.name,
            id: d.id,
            detail: `attempt ${d.attempt} > ${e.maxAttempt}`,
          });
    }
    if (e.minMaxAttempt !== undefined && mine.length > 0) {
      const highest = Math.max(...mine.map((d) => d.attempt));
      if (highest < e.minMaxAttempt)
        add({
          kind: "attempts",
          subscription: spec.name,
          detail: `highest attempt ${highest}, expected at least ${e.minMaxAttempt}`,
        });
    }

    // dead letters: each exactly once, not before its attempts ran out
    if (spec.deadLetter) {
      const seen = new Map<string, number>();
      for (const id of deadIds) seen.set(id, (seen.get(id) ?? 0) + 1);
      for (const [id, n] of seen)
        if (n > 1)
          add({
            kind: "dead-letter-duplicate",
            subscription: spec.name,
            id,
            detail: `dead-lettered ${n} times`,
          });
      for (const record of dead.get(sub) ?? []) {
        const tries = mine.filter((d) => d.id === record.id).length;
        if (spec.maxAttempts && record.reason !== "conformance term" && tries < spec.maxAttempts) {
          add({
            kind: "dead-letter-early",
            subscription: spec.name,
            id: record.id,
            detail: `dead-lettered after ${tries} deliveries; max attempts is ${spec.maxAttempts}`,
          });
        }
        if (e.deadLettered?.attempts !== undefined && record.attempts !== e.deadLettered.attempts) {
          add({
            kind: "dead-letter-early",
            subscription: spec.name,
            id: record.id,
            detail: `deliveryattempts ${record.attempts}, expected ${e.deadLettered.attempts}`,
          });
        }
        if (e.deadLettered?.reason && !record.reason.includes(e.deadLettered.reason)) {
          add({
            kind: "dead-letter-missing",
            subscription: spec.name,
            id: record.id,
            detail: `reason '${record.reason}', expected '${e.deadLettered.reason}'`,
          });
        }
      }
    }
  }

  if (e.deadLettered) {
    const total = [...dead.values()].reduce((n, r) => n + new Set(r.map((x) => x.id)).size, 0);
    if (total !== e.deadLettered.count)
      add({
        kind: "dead-letter-missing",
        detail: `${total} event(s) dead-lettered, expected ${e.deadLettered.count}`,
      });
  }

  for (const a of checkPublishes(c, publishes)) add(a);

  if (e.exactlyOnceProcessing) {
    for (const spec of ctx.subscriptions.values()) {
      const processed = new Map<string, number>();
      for (const d of delivers)
        if (d.subscription === spec.fullName && !d.redundant)
          processed.set(d.id, (processed.get(d.id) ?? 0) + 1);
      for (const id of ctx.published.keys()) {
        const n = processed.get(id) ?? 0;
        if (n !== 1)
          add({
            kind: "processed",
            subscription: spec.name,
            id,
            detail: `processed ${n} times, expected exactly once`,
          });
      }
    }
  }

  for (const a of checkSettleAnswers(c, ctx.subscriptions.values(), delivers, settles)) add(a);

  for (const rule of e.deliveredTimes ?? []) {
    const pattern = new RegExp(rule.ids);
    for (const spec of ctx.subscriptions.values()) {
      if (rule.subscription !== undefined && rule.subscription !== spec.name) continue;
      for (const id of ctx.published.keys()) {
        if (!pattern.test(id)) continue;
        const n = delivers.filter((d) => d.subscription === spec.fullName && d.id === id).length;
        if (n !== rule.times)
          add({
            kind: "unexpected",
            subscription: spec.name,
            id,
            detail: `delivered ${n} times, expected ${rule.times}`,
          });
      }
    }
  }

  if (e.stablePositions) {
    for (const d of delivers) {
      const p = ctx.published.get(d.id);
      if (p && (p.partition !== d.partition || p.offset !== d.offset)) {
        add({
          kind: "position",
          subscription: d.subscription,
          id: d.id,
          detail: `delivered at ${d.partition}/${d.offset}, published at ${p.partition}/${p.offset}`,
        });
      }
    }
  }

  if (e.storedEvents !== undefined && storedEvents !== e.storedEvents) {
    add({ kind: "stored", detail: `${storedEvents} events stored, expected ${e.storedEvents}` });
  }

  if (e.everySubscriberDelivered) {
    for (const name of ctx.subscribers.keys()) {
      if (!delivers.some((d) => d.subscriber === name))
        add({ kind: "balance", detail: `subscriber ${name} received nothing` });
    }
  }
  return anomalies;
}
