import type { Anomaly, AnomalyKind, DeadLetterRecord } from "./anomaly.js";
import type { ConformanceCase } from "./case.js";
import type { CaseContext, CaseSubscription } from "./case-context.js";
import type { HistoryEntry } from "./history.js";

export type Deliver = Extract<HistoryEntry, { op: "deliver" }>;
export type Settle = Extract<HistoryEntry, { op: "settle" }>;
export type Publish = Extract<HistoryEntry, { op: "publish" }>;

/** A subscription's counts as the broker reports them once the case settled. */
export interface SubscriptionCounts {
  subscription: string;
  backlog: number;
  inFlight: number;
}

/** What the runner read from the broker once the case settled, next to the history. */
export interface BrokerEvidence {
  /** full subscription name -> the events dead-lettered there */
  dead: Map<string, DeadLetterRecord[]>;
  /** Events the topic stores at the end (read only for cases that expect a count). */
  storedEvents: number | undefined;
  /** full subscription name -> unacked events held, read for subscriptions with an ack lost on the wire */
  pending: Map<string, number>;
  /** Every subscription's backlog and in flight (read only for cases that expect `drained`). */
  counts?: readonly SubscriptionCounts[];
}

/** One subscription's part of the history. */
export interface SubscriptionView {
  spec: CaseSubscription;
  /** Its deliveries and settles, in history order. */
  delivers: Deliver[];
  settles: Settle[];
  /** Ids the broker dead-lettered for it. */
  deadIds: string[];
}

/** What every checker reads: the case, its history split by operation and by subscription, the broker's evidence. */
export interface CheckContext extends BrokerEvidence {
  readonly c: ConformanceCase;
  /** Ids of events whose publish returned OK, with their key and position, in publish order. */
  readonly published: CaseContext["published"];
  /** subscriber name -> its subscription and client */
  readonly subscribers: CaseContext["subscribers"];
  readonly entries: readonly HistoryEntry[];
  readonly delivers: Deliver[];
  readonly settles: Settle[];
  readonly publishes: Publish[];
  /** Times of every fault (anything that may release a lease). */
  readonly faults: number[];
  /**
   * Clients killed, and when. Deliveries recorded after their client was killed were on their way when it died:
   * their leases began before the kill, at a time the history cannot show, so they are not held to the lease window.
   */
  readonly kills: { client: string; at: number }[];
  /** Ids the subscriptions' filter must keep out (`neverDelivered`). */
  readonly never: RegExp | undefined;
  /** Each subscription of the case with its part of the history, in the case's order. */
  readonly views: SubscriptionView[];
}

/** A checker judges one family of anomalies (the README's table) and reports only the kinds it names. */
export interface Checker {
  readonly family: string;
  readonly kinds: readonly AnomalyKind[];
  check(ctx: CheckContext): Anomaly[];
}

/** The history of `ctx` as the checkers read it, with the broker's evidence. */
export function checkContextOf(ctx: CaseContext, evidence: BrokerEvidence): CheckContext {
  const entries = ctx.history.entries;
  const delivers = entries.filter((x): x is Deliver => x.op === "deliver");
  const settles = entries.filter((x): x is Settle => x.op === "settle");
  const never = ctx.c.expect.neverDelivered;
  return {
    ...evidence,
    c: ctx.c,
    published: ctx.published,
    subscribers: ctx.subscribers,
    entries,
    delivers,
    settles,
    publishes: entries.filter((x): x is Publish => x.op === "publish"),
    faults: entries.filter((x) => x.op === "fault").map((x) => x.at),
    kills: entries.flatMap((x) => (x.op === "fault" && x.killed ? [{ client: x.killed, at: x.at }] : [])),
    never: never ? new RegExp(never) : undefined,
    views: [...ctx.subscriptions.values()].map((spec) => ({
      spec,
      delivers: delivers.filter((d) => d.subscription === spec.fullName),
      settles: settles.filter((s) => s.subscription === spec.fullName),
      deadIds: (evidence.dead.get(spec.fullName) ?? []).map((r) => r.id),
    })),
  };
}

/** Whether an id is expected on a subscription: not kept out by the filter, and matching its `expectIds`. */
export function expectedOn(check: CheckContext, spec: CaseSubscription, id: string): boolean {
  return !check.never?.test(id) && !(spec.expectIds && !new RegExp(spec.expectIds).test(id));
}
