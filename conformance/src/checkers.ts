import type { Anomaly, AnomalyKind, DeadLetterRecord } from "./anomaly.js";
import type { CaseContext } from "./case-context.js";
import { type Checker, checkContextOf, type SubscriptionCounts } from "./check-context.js";
import { deadLetterChecker } from "./dead-letter-checks.js";
import { lostChecker, processedChecker, reorderedChecker } from "./delivery-checks.js";
import { statsChecker } from "./drain-checks.js";
import {
  attemptsChecker,
  balanceChecker,
  positionChecker,
  storedChecker,
  unexpectedChecker,
} from "./expectation-checks.js";
import {
  duplicatedChecker,
  duplicatedWhileLeasedChecker,
  redeliveredAfterAckChecker,
} from "./lease-checks.js";
import { publishChecker } from "./publish-checks.js";
import { settleRefusalsChecker } from "./settle-checks.js";
import { backoffChecker, nackDelayChecker } from "./timing.js";

/**
 * The checkers, one per anomaly family (conformance/README.md's table), in the order their anomalies are listed.
 * Every anomaly kind belongs to exactly one of them.
 */
export const checkers: readonly Checker[] = [
  unexpectedChecker,
  lostChecker,
  duplicatedChecker,
  redeliveredAfterAckChecker,
  duplicatedWhileLeasedChecker,
  reorderedChecker,
  backoffChecker,
  nackDelayChecker,
  attemptsChecker,
  deadLetterChecker,
  publishChecker,
  processedChecker,
  settleRefusalsChecker,
  positionChecker,
  storedChecker,
  balanceChecker,
  statsChecker,
];

const LIMIT = 20; // anomalies listed per kind; the count says the rest

/**
 * Checks a case's history against its guarantees and expectations: every checker of the list on the history as it
 * is now, with what the broker reported once the case settled (dead letters per full subscription name, the
 * topic's stored events, unacked events held where an ack was lost on the wire, the subscriptions' counts).
 */
export function checkHistory(
  ctx: CaseContext,
  dead: Map<string, DeadLetterRecord[]>,
  storedEvents: number | undefined,
  pending: Map<string, number> = new Map(),
  counts?: readonly SubscriptionCounts[],
): Anomaly[] {
  const check = checkContextOf(ctx, { dead, storedEvents, pending, counts });
  const listed = new Map<AnomalyKind, number>();
  const anomalies: Anomaly[] = [];
  for (const checker of checkers) {
    for (const a of checker.check(check)) {
      const n = listed.get(a.kind) ?? 0;
      if (n >= LIMIT) continue;
      listed.set(a.kind, n + 1);
      anomalies.push(a);
    }
  }
  return anomalies;
}
