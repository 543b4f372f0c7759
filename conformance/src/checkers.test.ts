import { describe, expect, it } from "vitest";
import { parseSuite } from "./case.js";
import { checkHistory } from "./checkers.js";
import { createHistory, type HistoryEntry } from "./history.js";
import type { CaseContext } from "./run-case.js";

const SUB = "topic-main";

function context(
  yaml: string,
  entries: HistoryEntry[],
  published: [string, string | undefined][],
): CaseContext {
  const [c] = parseSuite(yaml, "test.yaml");
  if (!c) throw new Error("no case");
  const history = createHistory();
  history.add({
    op: "publish",
    at: 0,
    end: 0,
    client: "c1",
    ids: published.map(([id]) => id),
    keys: published.map(([, key]) => key),
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
    published: new Map(published.map(([id, key], offset) => [id, { key, partition: 0, offset }])),
  };
}

const yaml = (expect: string, ordered = false) => `- id: t
  name: t
  guarantee: g
  subscriptions: [{ name: main, ordered: ${ordered}, ackDeadlineMs: 1000 }]
  steps: [{ wait: { ms: 1 } }]
  expect: ${expect}
`;

let clock = 0;
const deliver = (id: string, attempt = 1, key?: string): HistoryEntry => ({
  op: "deliver",
  at: ++clock,
  client: "c1",
  subscriber: "s1",
  subscription: SUB,
  id,
  key,
  deliveryId: `${id}.${attempt}`,
  attempt,
  partition: 0,
  offset: 0,
  attributes: {},
  redundant: false,
});
const settle = (id: string, attempt = 1, ok = true, error?: string): HistoryEntry => ({
  op: "settle",
  at: ++clock,
  end: ++clock,
  client: "c1",
  subscriber: "s1",
  subscription: SUB,
  id,
  key: undefined,
  deliveryId: `${id}.${attempt}`,
  action: "ack",
  ok,
  error,
});

const kill = (): HistoryEntry => ({ op: "fault", at: ++clock, fault: "consumer killed" });

describe("history checkers", () => {
  it("pass a clean history", () => {
    const ctx = context(
      yaml("{ allDelivered: true }"),
      [deliver("a"), settle("a"), deliver("b"), settle("b")],
      [
        ["a", undefined],
        ["b", undefined],
      ],
    );
    expect(checkHistory(ctx, new Map(), undefined)).toEqual([]);
  });

  it("find an acknowledged publish that was never delivered", () => {
    const ctx = context(
      yaml("{ allDelivered: true }"),
      [deliver("a"), settle("a")],
      [
        ["a", undefined],
        ["b", undefined],
      ],
    );
    expect(checkHistory(ctx, new Map(), undefined)).toMatchObject([
      { kind: "lost", id: "b", detail: "acknowledged publish never delivered" },
    ]);
  });

  it("find a redelivery after a confirmed ack, and a second copy inside the lease", () => {
    const ctx = context(
      yaml("{ allDelivered: true }"),
      [deliver("a"), deliver("a", 2), settle("a", 2), deliver("a", 3), settle("a", 3)],
      [["a", undefined]],
    );
    const kinds = checkHistory(ctx, new Map(), undefined).map((a) => a.kind);
    expect(kinds).toContain("redelivered-after-ack");
    expect(kinds).toContain("duplicated-while-leased");
  });

  it("do not hold a delivery recorded after its client was killed to the lease window (it left before the kill)", () => {
    const killedC1: HistoryEntry = { op: "fault", at: ++clock, fault: "client c1 killed", killed: "c1" };
    const afterKill = context(
      yaml("{ allDelivered: true }"),
      [killedC1, deliver("a"), deliver("a", 2), settle("a", 2)],
      [["a", undefined]],
    );
    expect(checkHistory(afterKill, new Map(), undefined)).toEqual([]);
    const otherClientKilled: HistoryEntry = {
      op: "fault",
      at: ++clock,
      fault: "client c2 killed",
      killed: "c2",
    };
    const stillChecked = context(
      yaml("{ allDelivered: true }"),
      [otherClientKilled, deliver("a"), deliver("a", 2), settle("a", 2)],
      [["a", undefined]],
    );
    expect(checkHistory(stillChecked, new Map(), undefined).map((x) => x.kind)).toEqual([
      "duplicated-while-leased",
    ]);
  });

  it("find an event of a key delivered before the previous one of that key was acked", () => {
    const ctx = context(
      yaml("{ allDelivered: true }", true),
      [deliver("a", 1, "k"), deliver("b", 1, "k"), settle("a"), settle("b")],
      [
        ["a", "k"],
        ["b", "k"],
      ],
    );
    expect(checkHistory(ctx, new Map(), undefined)).toMatchObject([{ kind: "reordered", id: "b" }]);
  });

  it("count an ack lost on the wire as done only when the broker holds nothing unacked", () => {
    const entries = [deliver("a"), settle("a", 1, false, "unavailable: connection broke")];
    const held = context(yaml("{ allDelivered: true }"), entries, [["a", undefined]]);
    expect(checkHistory(held, new Map(), undefined, new Map([[SUB, 1]]))).toMatchObject([
      { kind: "lost", id: "a" },
    ]);
    const clear = context(yaml("{ allDelivered: true }"), entries, [["a", undefined]]);
    expect(checkHistory(clear, new Map(), undefined, new Map([[SUB, 0]]))).toEqual([]);
  });

  it("require exactly one processing per event in idempotent mode", () => {
    const once = context(
      yaml("{ exactlyOnceProcessing: true, noRedeliveryAfterAck: false }"),
      [deliver("a"), kill(), { ...deliver("a", 2), redundant: true } as HistoryEntry, settle("a", 2)],
      [["a", undefined]],
    );
    expect(checkHistory(once, new Map(), undefined)).toEqual([]);
    const twice = context(
      yaml("{ exactlyOnceProcessing: true, noRedeliveryAfterAck: false }"),
      [deliver("a"), kill(), deliver("a", 2), settle("a", 2)],
      [["a", undefined]],
    );
    expect(checkHistory(twice, new Map(), undefined)).toMatchObject([{ kind: "processed", id: "a" }]);
  });
});
