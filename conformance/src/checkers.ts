import type { HistoryEntry } from "./history.js";
import { checkDuplicatedWhileLeased, checkDuplicates, checkRedeliveryAfterAck } from "./lease-checks.js";
import type { CaseContext } from "./run-case.js";
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

  if (e.publishError) {
    for (const p of publishes) {
      if (p.ok)
        add({ kind: "publish", id: p.ids[0], detail: `publish succeeded; expected ${e.publishError}` });
      else if (!p.error?.startsWith(e.publishError))
        add({
          kind: "publish",
          id: p.ids[0],
          detail: `publish failed with '${p.error}', expected ${e.publishError}`,
        });
    }
  }

  if (e.duplicatesReported === true) {
    // Order-independent: concurrent publishers of one id may see their responses in any order.
    const outcomes = new Map<string, { offset: number; duplicate: boolean }[]>();
    // dedupe is on (source, id): the same id from another source is another event
    const dedupeKey = (p: Publish, i: number) => `${p.sources?.[i] ?? ""} ${p.ids[i]}`;
    const failed = new Set(
      publishes.filter((x) => !x.ok).flatMap((x) => x.ids.map((_, i) => dedupeKey(x, i))),
    );
    for (const p of publishes.filter((x) => x.ok)) {
      p.ids.forEach((_, i) => {
        const outcome = { offset: p.offsets?.[i] ?? -1, duplicate: p.duplicate?.[i] ?? false };
        const key = dedupeKey(p, i);
        outcomes.set(key, [...(outcomes.get(key) ?? []), outcome]);
      });
    }
    for (const [key, list] of outcomes) {
      const id = key.slice(key.indexOf(" ") + 1);
      const offsets = new Set(list.map((o) => o.offset));
      const originals = list.filter((o) => !o.duplicate).length;
      if (offsets.size > 1)
        add({
          kind: "publish",
          id,
          detail: `publishes of one id returned different offsets ${[...offsets].join(", ")}`,
        });
      if (originals > 1)
        add({
          kind: "publish",
          id,
          detail: `${originals} publishes of one id reported duplicate=false; a republish must report duplicate=true`,
        });
      // an id whose first publish failed on the wire may have been stored anyway: then every OK reports a duplicate
      if (originals === 0 && !failed.has(key))
        add({
          kind: "publish",
          id,
          detail: "every publish of this id reported duplicate=true, but none stored it first",
        });
    }
  }
  if (e.duplicatesReported === false) {
    for (const p of publishes.filter((x) => x.ok)) {
      p.ids.forEach((id, i) => {
        if (p.duplicate?.[i])
          add({ kind: "publish", id, detail: "reported as a duplicate, but the dedupe window had passed" });
      });
    }
  }

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

  if (e.staleAckRejected) {
    const stale = settles.filter((x) => x.action === "stale-ack");
    if (stale.length === 0)
      add({ kind: "stale-ack", detail: "no stale ack was sent (nothing was redelivered)" });
    for (const x of stale) {
      if (x.ok)
        add({
          kind: "stale-ack",
          id: x.id,
          detail: `an ack with the stale delivery id ${x.deliveryId} succeeded`,
        });
      else if (!x.error?.startsWith(e.staleAckRejected))
        add({
          kind: "stale-ack",
          id: x.id,
          detail: `stale ack failed with '${x.error}', expected ${e.staleAckRejected}`,
        });
    }
  }

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
