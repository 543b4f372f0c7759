import { describe, expect, it } from "vitest";
import { parseSuite } from "./case.js";
import type { HistoryEntry } from "./history.js";
import { checkSettleAnswers } from "./settle-checks.js";

type Deliver = Extract<HistoryEntry, { op: "deliver" }>;
type Settle = Extract<HistoryEntry, { op: "settle" }>;

const SUB = "topic-main";

function caseWith(expect: string) {
  const [c] = parseSuite(
    `- id: t
  name: t
  guarantee: g
  subscriptions: [{ name: main, ackDeadlineMs: 300 }]
  steps: [{ wait: { ms: 1 } }]
  expect: ${expect}
`,
    "test.yaml",
  );
  if (!c) throw new Error("no case");
  return { c, specs: c.subscriptions.map((s) => ({ ...s, fullName: `topic-${s.name}` })) };
}

const deliver = (deliveryId: string, at: number, attempt = 1): Deliver => ({
  op: "deliver",
  at,
  client: "c1",
  subscriber: "s1",
  subscription: SUB,
  id: "e0",
  key: undefined,
  deliveryId,
  attempt,
  partition: 0,
  offset: 0,
  attributes: {},
  redundant: false,
});

const settle = (deliveryId: string, at: number, action: Settle["action"], error?: string): Settle => ({
  op: "settle",
  at,
  end: at + 1,
  client: "c1",
  subscriber: "s1",
  subscription: SUB,
  id: "e0",
  key: undefined,
  deliveryId,
  action,
  ok: error === undefined,
  error,
});

const REFUSED = "failed_precondition: delivery is unknown, already settled or its lease expired";

describe("settles that must be refused", () => {
  it("a stale ack or term that succeeds is an anomaly; refused with the expected code it is not", () => {
    const { c, specs } = caseWith("{ staleAckRejected: failed_precondition }");
    const delivers = [deliver("d1", 0), deliver("d2", 600, 2)];
    expect(checkSettleAnswers(c, specs, delivers, [settle("d1", 601, "stale-term", REFUSED)])).toEqual([]);
    const accepted = checkSettleAnswers(c, specs, delivers, [settle("d1", 601, "stale-term")]);
    expect(accepted.map((a) => a.detail)).toEqual([
      "a settle with a stale delivery id (stale-term d1) succeeded",
    ]);
    const wrong = checkSettleAnswers(c, specs, delivers, [settle("d1", 601, "stale-ack", "not_found: no")]);
    expect(wrong[0]?.detail).toContain("failed with 'not_found: no', expected failed_precondition");
  });

  it("an ack sent more than the ack deadline after its delivery arrived must fail; one in time is not judged", () => {
    const { c, specs } = caseWith("{ lateSettleRejected: failed_precondition }");
    const delivers = [deliver("d1", 0), deliver("d2", 1300, 2)];
    const onTime = settle("d2", 1310, "ack");
    expect(checkSettleAnswers(c, specs, delivers, [settle("d1", 700, "ack", REFUSED), onTime])).toEqual([]);
    const late = checkSettleAnswers(c, specs, delivers, [settle("d1", 700, "ack"), onTime]);
    expect(late).toEqual([
      { kind: "late-settle", id: "e0", detail: "a settle after its lease deadline (ack d1) succeeded" },
    ]);
  });

  it("a second ack of one message must be refused", () => {
    const { c, specs } = caseWith("{ repeatSettleRejected: failed_precondition }");
    const delivers = [deliver("d1", 0)];
    const first = settle("d1", 5, "ack");
    expect(checkSettleAnswers(c, specs, delivers, [first, settle("d1", 9, "repeat-ack", REFUSED)])).toEqual(
      [],
    );
    const twice = checkSettleAnswers(c, specs, delivers, [first, settle("d1", 9, "repeat-ack")]);
    expect(twice[0]?.kind).toBe("repeat-settle");
  });

  it("an expectation the case never got to test is an anomaly, not a pass", () => {
    const { c, specs } = caseWith(
      "{ staleAckRejected: failed_precondition, lateSettleRejected: failed_precondition }",
    );
    const found = checkSettleAnswers(c, specs, [deliver("d1", 0)], [settle("d1", 5, "ack")]);
    expect(found.map((a) => a.detail)).toEqual([
      "the case sent no settle with a stale delivery id",
      "the case sent no settle after its lease deadline",
    ]);
  });
});
