import { describe, expect, it } from "vitest";
import { parseSuite } from "./case.js";
import type { CaseContext } from "./case-context.js";
import { checkHistory } from "./checkers.js";
import { excuseTable, excusingFaults, faultKindOf, guarantees } from "./excuses.js";
import { createHistory, type FaultKind, faultKinds, type HistoryEntry } from "./history.js";
import { context, deliver, SUB, settle } from "./test-support.js";

/** A history of one event delivered twice to s1 at 10 and 100 ms (lease 1000 ms), with `between` at 50 ms. */
function secondCopy(
  guarantee: string,
  between: HistoryEntry[],
  expect = "{ allDelivered: true }",
): CaseContext {
  const [c] = parseSuite(
    `- id: t
  name: t
  guarantee: ${guarantee}
  subscriptions: [{ name: main, ackDeadlineMs: 1000 }]
  steps: [{ wait: { ms: 1 } }]
  expect: ${expect}
`,
    "test.yaml",
  );
  if (!c) throw new Error("no case");
  const ctx = context(
    "- id: t\n  name: t\n  guarantee: g\n  steps: [{ wait: { ms: 1 } }]\n",
    [],
    [["a", undefined]],
  );
  const history = createHistory();
  for (const e of [
    ...ctx.history.entries, // the publish of "a"
    { ...(deliver("a") as object), at: 10 },
    ...between,
    { ...(deliver("a", 2) as object), at: 100 },
    { ...(settle("a", 2) as object), at: 110, end: 111 },
  ] as HistoryEntry[])
    history.add(e);
  return {
    ...ctx,
    c,
    history,
    subscriptions: new Map(c.subscriptions.map((x) => [x.name, { ...x, fullName: SUB }])),
  };
}

const faultAt = (at: number, kind: FaultKind, scope: { subscriber?: string; subscription?: string } = {}) =>
  ({ op: "fault", at, fault: kind, kind, ...scope }) as HistoryEntry;

describe("the fault excuse table", () => {
  it("has a row for every guarantee of every anomaly it covers, naming only releases the contract makes", () => {
    for (const rows of Object.values(excuseTable)) {
      expect(Object.keys(rows).sort()).toEqual([...guarantees].sort());
      for (const kinds of Object.values(rows))
        for (const kind of kinds) expect(["unsubscribe", "seek", "redrive"]).toContain(kind);
    }
    expect(excusingFaults("duplicated", "at-most-once")).toEqual([]);
    expect(excusingFaults("duplicated-while-leased", "bad-input")).toEqual([]);
    expect(excusingFaults("duplicated-while-leased", "no-such-guarantee")).toEqual(
      excusingFaults("duplicated-while-leased", "at-least-once"),
    );
  });

  it("let no broker, backend, proxy or client fault excuse a second copy within the lease", () => {
    const keepLeases = faultKinds.filter((k) => !["unsubscribe", "seek", "redrive"].includes(k));
    expect(keepLeases).toContain("proxy-reset");
    for (const guarantee of guarantees) {
      for (const kind of keepLeases) {
        const found = checkHistory(secondCopy(guarantee, [faultAt(50, kind)]), new Map(), undefined);
        expect(
          found.map((a) => a.kind),
          `${guarantee} after ${kind}`,
        ).toEqual(["duplicated-while-leased"]);
        expect(found[0]?.detail).toContain(`not excused by ${kind}`);
      }
    }
  });

  it("let a clean close of the same subscriber, or a seek of the same subscription, excuse it (not another's)", () => {
    const excused = (between: HistoryEntry[]) =>
      checkHistory(secondCopy("at-least-once", between), new Map(), undefined).map((a) => a.kind);
    expect(excused([faultAt(50, "unsubscribe", { subscriber: "s1" })])).toEqual([]);
    expect(excused([faultAt(50, "unsubscribe", { subscriber: "s2" })])).toEqual(["duplicated-while-leased"]);
    expect(excused([faultAt(50, "seek", { subscription: SUB })])).toEqual([]);
    expect(excused([faultAt(50, "seek", { subscription: "topic-other" })])).toEqual([
      "duplicated-while-leased",
    ]);
    // a fault before the first copy or after the second is no excuse either
    expect(excused([faultAt(5, "unsubscribe", { subscriber: "s1" })])).toEqual(["duplicated-while-leased"]);
    expect(
      checkHistory(secondCopy("bad-input", [faultAt(50, "unsubscribe")]), new Map(), undefined).map(
        (a) => a.kind,
      ),
    ).toEqual(["duplicated-while-leased"]);
  });

  it("let only a seek or redrive after the ack excuse a redelivery after a confirmed ack", () => {
    const afterAck = (kind: FaultKind) => {
      const ctx = secondCopy("replay", [
        { ...(settle("a") as object), at: 20, end: 21 } as HistoryEntry,
        faultAt(50, kind),
      ]);
      return checkHistory(ctx, new Map(), undefined).map((a) => a.kind);
    };
    expect(afterAck("seek")).toEqual([]);
    expect(afterAck("redrive")).toEqual([]);
    expect(afterAck("broker-restart")).toEqual(["redelivered-after-ack"]);
    expect(afterAck("unsubscribe")).toEqual(["redelivered-after-ack"]);
  });

  it("let nothing excuse a duplicate where the guarantee allows one delivery", () => {
    const ctx = secondCopy(
      "at-least-once",
      [faultAt(50, "seek", { subscription: SUB })],
      "{ noDuplicates: true }",
    );
    expect(checkHistory(ctx, new Map(), undefined).map((a) => a.kind)).toEqual(["duplicated"]);
  });

  it("name the kind of each runner fault step", () => {
    expect(faultKindOf({ broker: "kill" })).toBe("broker-kill");
    expect(faultKindOf({ client: "c1", clientFault: "restart" })).toBe("client-restart");
    expect(faultKindOf({ backend: "restart" })).toBe("backend-restart");
    expect(faultKindOf({ proxy: "swallow-responses" })).toBe("proxy-swallow-responses");
    expect(faultKindOf({})).toBeUndefined();
  });
});
