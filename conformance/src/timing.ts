import type { Anomaly, AnomalyKind } from "./anomaly.js";
import type { ConformanceCase, SettlePolicy, SubscriptionSpec } from "./case.js";
import type { Checker, Deliver, Settle } from "./check-context.js";

/**
 * How much earlier than the rule a redelivery after a nack may be recorded (ms). Every time is the runner's own
 * clock, the nack is stamped before it is sent and the redelivery after it arrived, so only the broker's timer and
 * rounding can make it early.
 */
export const EARLY_TOLERANCE_MS = 30;

/**
 * The same for a redelivery after an expired lease: that gap is measured from the recorded first delivery, which
 * arrives one hop (broker, client, runner) after the lease began, so a slow first hop makes the gap look shorter
 * (the browser's hops were seen taking 150 ms on a loaded machine).
 */
export const EXPIRY_EARLY_TOLERANCE_MS = 250;

/**
 * When both deliveries carry the broker's lease deadline, an expiry is timed on the broker's clock instead (the
 * redelivery's lease began at its deadline minus the ack deadline): no hop in between, only whole milliseconds.
 */
export const BROKER_CLOCK_TOLERANCE_MS = 5;

/** The retry policy the runner gives a subscription that names none (see `subscriptionOf` in case-setup.ts). */
export const DEFAULT_RETRY = { minMs: 100, maxMs: 1000, multiplier: 2, jitter: 0 };

/** The band the broker's backoff after attempt `attempt` falls in: min * multiplier^(attempt-1), capped, +-jitter. */
export function backoffBand(spec: SubscriptionSpec, attempt: number): { low: number; high: number } {
  const { minMs, maxMs, multiplier = 2, jitter = 0 } = spec.retry ?? DEFAULT_RETRY;
  const base = Math.min(maxMs, minMs * multiplier ** Math.max(0, attempt - 1));
  return { low: Math.max(0, base * (1 - jitter)), high: Math.min(maxMs, base * (1 + jitter)) };
}

/** The settle policy each subscriber of the case was started with. */
export function policiesOf(c: ConformanceCase): Map<string, SettlePolicy> {
  const policies = new Map<string, SettlePolicy>();
  for (const step of c.steps)
    if ("subscribe" in step) policies.set(step.subscribe.subscriber, step.subscribe.policy ?? {});
  return policies;
}

export interface TimingInput {
  c: ConformanceCase;
  spec: SubscriptionSpec;
  /** This subscription's deliveries and settles, in history order. */
  delivers: Deliver[];
  settles: Settle[];
  /** Times of faults (anything that may release a lease) and of client kills. */
  faults: number[];
  kills: { client: string; at: number }[];
}

/**
 * Retry timing, both directions: a redelivery after a nack with a delay comes after that delay; after a nack
 * without one, or after an expired lease (ack deadline + backoff), within the backoff band of the attempt that
 * failed. Checked at every attempt, so a wrong curve shows at the first attempt where it leaves the band.
 */
export function checkRetryTiming(input: TimingInput): Anomaly[] {
  const { c, spec, delivers, settles } = input;
  const e = c.expect;
  if (spec.mode === "at-most-once") return [];
  if (e.backoffToleranceMs === undefined && e.nackDelayToleranceMs === undefined) return [];
  const policies = policiesOf(c);
  const anomalies: Anomaly[] = [];
  for (const [i, d] of delivers.entries()) {
    const next = delivers.slice(i + 1).find((x) => x.id === d.id && x.at > d.at);
    if (!next || disturbed(input, d, next)) continue;
    const own = settles.filter((s) => s.deliveryId === d.deliveryId && s.at <= next.at);
    const nack = own.find((s) => s.action === "nack" && s.ok);
    const policy = policies.get(d.subscriber) ?? {};
    let verdict: string | undefined;
    if (nack && policy.nackDelayMs !== undefined && e.nackDelayToleranceMs !== undefined) {
      verdict = judge(
        nack.at,
        nack.end,
        next.at,
        {
          low: policy.nackDelayMs - EARLY_TOLERANCE_MS,
          high: policy.nackDelayMs + e.nackDelayToleranceMs,
          what: `after a nack with a ${policy.nackDelayMs} ms delay`,
        },
        next.attempt,
      );
      if (verdict) anomalies.push({ kind: "nack-delay", subscription: spec.name, id: d.id, detail: verdict });
      continue;
    }
    if (e.backoffToleranceMs === undefined) continue;
    const band = backoffBand(spec, d.attempt);
    if (nack && policy.nackDelayMs === undefined) {
      verdict = judge(
        nack.at,
        nack.end,
        next.at,
        {
          low: band.low - EARLY_TOLERANCE_MS,
          high: band.high + e.backoffToleranceMs,
          what: `after a nack of attempt ${d.attempt}`,
        },
        next.attempt,
      );
    } else if (own.length === 0 && d.leaseDeadline !== undefined && next.leaseDeadline !== undefined) {
      const ended = d.leaseDeadline;
      const began = next.leaseDeadline - (spec.ackDeadlineMs ?? 30_000);
      verdict = judge(
        ended,
        ended,
        began,
        {
          low: band.low - BROKER_CLOCK_TOLERANCE_MS,
          high: band.high + e.backoffToleranceMs,
          what: `after attempt ${d.attempt}'s lease expired unsettled (broker's clock)`,
        },
        next.attempt,
      );
    } else if (own.length === 0) {
      const deadline = spec.ackDeadlineMs ?? 30_000;
      verdict = judge(
        d.at,
        d.at,
        next.at,
        {
          low: deadline + band.low - EXPIRY_EARLY_TOLERANCE_MS,
          high: deadline + band.high + e.backoffToleranceMs,
          what: `after attempt ${d.attempt}'s ${deadline} ms lease expired unsettled`,
        },
        next.attempt,
      );
    }
    if (verdict) anomalies.push({ kind: "backoff", subscription: spec.name, id: d.id, detail: verdict });
  }
  return anomalies;
}

/** A fault between the two deliveries, or a delivery that reached a client already killed, has no rule to time. */
function disturbed(input: TimingInput, d: Deliver, next: Deliver): boolean {
  return (
    input.faults.some((f) => f >= d.at && f <= next.at) ||
    input.kills.some((k) => k.client === d.client && k.at <= d.at)
  );
}

/**
 * The gap from `from` (when the runner sent the settle, or the first delivery arrived) must reach `low`, and the
 * gap from `confirmed` (when the broker's answer came back) must stay under `high`. Returns what went wrong.
 */
function judge(
  from: number,
  confirmed: number,
  at: number,
  rule: { low: number; high: number; what: string },
  attempt: number,
): string | undefined {
  const early = at - from;
  const late = at - confirmed;
  if (early >= rule.low && late <= rule.high) return undefined;
  const gap = early < rule.low ? early : late;
  return `attempt ${attempt} came ${Math.round(gap)} ms ${rule.what}, expected ${Math.round(rule.low)}..${Math.round(rule.high)} ms`;
}

/** The retry timing anomalies of one kind (backoff or nack-delay), per subscription. */
function retryTimingChecker(kind: AnomalyKind & ("backoff" | "nack-delay")): Checker {
  return {
    family: kind,
    kinds: [kind],
    check: (check) =>
      check.views.flatMap((view) =>
        checkRetryTiming({
          c: check.c,
          spec: view.spec,
          delivers: view.delivers,
          settles: view.settles,
          faults: check.faults,
          kills: check.kills,
        }).filter((a) => a.kind === kind),
      ),
  };
}

/** backoff: redeliveries after a nack without a delay or an expired lease, inside the attempt's backoff band. */
export const backoffChecker: Checker = retryTimingChecker("backoff");
/** nack-delay: redeliveries after a nack with a delay, not before it and not later than the tolerance. */
export const nackDelayChecker: Checker = retryTimingChecker("nack-delay");
