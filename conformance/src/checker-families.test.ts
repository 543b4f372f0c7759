import { describe, expect, it } from "vitest";
import { type Anomaly, anomalyKinds, type DeadLetterRecord } from "./anomaly.js";
import { parseSuite } from "./case.js";
import type { CaseContext } from "./case-context.js";
import { type CheckContext, type Checker, checkContextOf, type SubscriptionCounts } from "./check-context.js";
import { checkers, checkHistory } from "./checkers.js";
import { deadLetterChecker } from "./dead-letter-checks.js";
import { statsChecker } from "./drain-checks.js";
import {
  attemptsChecker,
  balanceChecker,
  positionChecker,
  storedChecker,
  unexpectedChecker,
} from "./expectation-checks.js";
import { createHistory, type HistoryEntry } from "./history.js";
import { settleRefusalsChecker } from "./settle-checks.js";

const SUB = "topic-main";

interface Evidence {
  dead?: Map<string, DeadLetterRecord[]>;
  storedEvents?: number;
  counts?: SubscriptionCounts[];
}

/** A case of one subscription `main` (extra subscription fields in `sub`), its history and what the broker said. */
function caseOf(expect: string, entries: HistoryEntry[], published: string[], sub = ""): CaseContext {
  const [c] = parseSuite(
    `- id: t
  name: t
  guarantee: at-least-once
  subscriptions: [{ name: main, ackDeadlineMs: 1000${sub} }]
  steps: [{ wait: { ms: 1 } }]
  expect: ${expect}
`,
    "test.yaml",
  );
  if (!c) throw new Error("no case");
  const history = createHistory();
  history.add({
    op: "publish",
    at: 0,
    end: 0,
    client: "c1",
    ids: published,
    keys: published.map(() => undefined),
    ok: true,
  });
  for (const e of entries) history.add(e);
  return {
    c,
    topic: "topic",
    deadLetterTopic: "topic-dlq",
    history,
    subscriptions: new Map(c.subscriptions.map((s) => [s.name, { ...s, fullName: `topic-${s.name}` }])),
    subscribers: new Map([["s1", { subscription: SUB, client: "c1" }]]),
    admin: () => {
      throw new Error("checkers must not call the broker");
    },
    published: new Map(published.map((id, offset) => [id, { key: undefined, partition: 0, offset }])),
  };
}

const checkOf = (ctx: CaseContext, evidence: Evidence = {}): CheckContext =>
  checkContextOf(ctx, {
    dead: evidence.dead ?? new Map(),
    storedEvents: evidence.storedEvents,
    pending: new Map(),
    counts: evidence.counts,
  });

let clock = 0;
const deliver = (id: string, attempt = 1, extra: Partial<HistoryEntry> = {}): HistoryEntry =>
  ({
    op: "deliver",
    at: ++clock,
    client: "c1",
    subscriber: "s1",
    subscription: SUB,
    id,
    key: undefined,
    deliveryId: `${id}.${attempt}`,
    attempt,
    partition: 0,
    offset: 0,
    attributes: { type: "conformance.event", source: "/conformance" },
    redundant: false,
    ...extra,
  }) as HistoryEntry;
const ack = (id: string, attempt = 1, action = "ack"): HistoryEntry => ({
  op: "settle",
  at: ++clock,
  end: ++clock,
  client: "c1",
  subscriber: "s1",
  subscription: SUB,
  id,
  key: undefined,
  deliveryId: `${id}.${attempt}`,
  action: action as "ack",
  ok: true,
});

/** Runs one checker, and holds it to the kinds it names. */
function run(checker: Checker, check: CheckContext): Anomaly[] {
  const found = checker.check(check);
  for (const a of found) expect(checker.kinds, `${checker.family} reported ${a.kind}`).toContain(a.kind);
  return found;
}

describe("the list of checkers", () => {
  it("has one checker per family, and every anomaly kind belongs to exactly one of them", () => {
    const families = checkers.map((c) => c.family);
    expect(new Set(families).size).toBe(families.length);
    const kinds = checkers.flatMap((c) => c.kinds);
    expect([...kinds].sort()).toEqual([...anomalyKinds].sort());
  });

  it("lists at most 20 anomalies of one kind", () => {
    const strangers = Array.from({ length: 25 }, (_, n) => deliver(`z${n}`));
    const found = checkHistory(caseOf("{ allDelivered: false }", strangers, []), new Map(), undefined);
    expect(found).toHaveLength(20);
    expect(found.every((a) => a.kind === "unexpected")).toBe(true);
  });
});

describe("unexpected", () => {
  it("passes deliveries of published events, as often as expected, with the expected attributes", () => {
    const ctx = caseOf(
      "{ attributes: { type: conformance.event }, deliveredTimes: [{ ids: '^e', times: 1 }] }",
      [deliver("e0"), ack("e0")],
      ["e0"],
    );
    expect(run(unexpectedChecker, checkOf(ctx))).toEqual([]);
  });

  it("finds an id never published, one the filter keeps out, a wrong attribute and a wrong delivery count", () => {
    const ctx = caseOf(
      "{ neverDelivered: '^x', attributes: { type: conformance.event }, deliveredTimes: [{ ids: '^e', times: 1 }] }",
      [
        deliver("zz"),
        deliver("x1"),
        deliver("e0", 1, { attributes: { type: "other" } } as Partial<HistoryEntry>),
      ],
      ["e0", "e1", "x1"],
    );
    expect(run(unexpectedChecker, checkOf(ctx)).map((a) => `${a.id}: ${a.detail}`)).toEqual([
      "zz: delivered but never published",
      "x1: delivered but excluded by the subscription's filter",
      "e0: attribute type is 'other', published 'conformance.event'",
      "e1: delivered 0 times, expected 1",
    ]);
  });
});

describe("attempts", () => {
  it("finds an attempt above maxAttempt, and a highest attempt below minMaxAttempt", () => {
    const history = [deliver("e0"), deliver("e0", 2), deliver("e0", 3)];
    expect(
      run(attemptsChecker, checkOf(caseOf("{ maxAttempt: 3, minMaxAttempt: 3 }", history, ["e0"]))),
    ).toEqual([]);
    const found = run(
      attemptsChecker,
      checkOf(caseOf("{ maxAttempt: 2, minMaxAttempt: 4 }", history, ["e0"])),
    );
    expect(found.map((a) => a.detail)).toEqual(["attempt 3 > 2", "highest attempt 3, expected at least 4"]);
  });
});

describe("dead letters", () => {
  const sub = ", maxAttempts: 2, deadLetter: true";
  const expectation = "{ deadLettered: { count: 1, attempts: 2, reason: max } }";
  const record = (id: string, attempts = 2, reason = "max delivery attempts reached") => ({
    id,
    attempts,
    reason,
  });
  const twice = [deliver("e0"), deliver("e0", 2)];

  it("pass one event dead-lettered once after its attempts, with the expected attempts and reason", () => {
    const ctx = caseOf(expectation, twice, ["e0"], sub);
    expect(run(deadLetterChecker, checkOf(ctx, { dead: new Map([[SUB, [record("e0")]]]) }))).toEqual([]);
  });

  it("find a second dead letter of one event, one before the attempts ran out, and the wrong attempts or reason", () => {
    const dead = new Map([[SUB, [record("e0"), record("e0"), record("e1", 1, "other")]]]);
    const ctx = caseOf(expectation, [...twice, deliver("e1")], ["e0", "e1"], sub);
    expect(
      run(deadLetterChecker, checkOf(ctx, { dead })).map((a) => `${a.kind} ${a.id}: ${a.detail}`),
    ).toEqual([
      "dead-letter-duplicate e0: dead-lettered 2 times",
      "dead-letter-early e1: dead-lettered after 1 deliveries; max attempts is 2",
      "dead-letter-early e1: deliveryattempts 1, expected 2",
      "dead-letter-missing e1: reason 'other', expected 'max'",
      "dead-letter-missing undefined: 2 event(s) dead-lettered, expected 1",
    ]);
  });

  it("do not hold a termed event to the attempts", () => {
    const ctx = caseOf("{ deadLettered: { count: 1 } }", [deliver("e0")], ["e0"], sub);
    const dead = new Map([[SUB, [record("e0", 1, "conformance term")]]]);
    expect(run(deadLetterChecker, checkOf(ctx, { dead }))).toEqual([]);
  });
});

describe("position", () => {
  it("finds a delivery at another partition or offset than its publish returned", () => {
    const ctx = caseOf(
      "{ stablePositions: true }",
      [deliver("e0"), deliver("e1", 1, { offset: 7 } as Partial<HistoryEntry>)],
      ["e0", "e1"],
    );
    expect(run(positionChecker, checkOf(ctx))).toMatchObject([
      { kind: "position", id: "e1", detail: "delivered at 0/7, published at 0/1" },
    ]);
  });
});

describe("stored", () => {
  it("compares the topic's stored events with the expectation, and only when the case has one", () => {
    const expecting = caseOf("{ storedEvents: 3 }", [], ["e0"]);
    expect(run(storedChecker, checkOf(expecting, { storedEvents: 3 }))).toEqual([]);
    expect(run(storedChecker, checkOf(expecting, { storedEvents: 2 }))).toEqual([
      { kind: "stored", detail: "2 events stored, expected 3" },
    ]);
    expect(run(storedChecker, checkOf(caseOf("{}", [], ["e0"]), { storedEvents: 2 }))).toEqual([]);
  });
});

describe("balance", () => {
  it("finds a subscriber that received nothing", () => {
    const ctx = caseOf("{ everySubscriberDelivered: true }", [deliver("e0")], ["e0"]);
    expect(run(balanceChecker, checkOf(ctx))).toEqual([]);
    ctx.subscribers.set("s2", { subscription: SUB, client: "c2" });
    expect(run(balanceChecker, checkOf(ctx))).toEqual([
      { kind: "balance", detail: "subscriber s2 received nothing" },
    ]);
  });
});

describe("stats", () => {
  const counts = [{ subscription: SUB, backlog: 1, inFlight: 0 }];

  it("finds a subscription that still holds events once the case settled, when the case expects drained", () => {
    const found = run(statsChecker, checkOf(caseOf("{ drained: true }", [], []), { counts }));
    expect(found).toMatchObject([{ kind: "stats", subscription: SUB }]);
    expect(run(statsChecker, checkOf(caseOf("{ drained: true }", [], []), { counts: [] }))).toEqual([]);
  });

  it("judges nothing without the expectation", () => {
    expect(run(statsChecker, checkOf(caseOf("{}", [], []), { counts }))).toEqual([]);
  });
});

describe("stale-ack, late-settle, repeat-settle", () => {
  it("find a second settle of one message that succeeded", () => {
    const ctx = caseOf(
      "{ repeatSettleRejected: failed_precondition }",
      [deliver("e0"), ack("e0"), ack("e0", 1, "repeat-ack")],
      ["e0"],
    );
    expect(run(settleRefusalsChecker, checkOf(ctx))).toMatchObject([
      {
        kind: "repeat-settle",
        id: "e0",
        detail: "a second settle of one message (repeat-ack e0.1) succeeded",
      },
    ]);
  });
});
