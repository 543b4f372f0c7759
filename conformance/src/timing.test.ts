import { describe, expect, it } from "vitest";
import { checkHistory } from "./checkers.js";
import type { HistoryEntry } from "./history.js";
import { context, deliverAt, settleAt, timed } from "./test-support.js";

describe("retry timing checkers", () => {
  const nackDelay = (redeliveredAt: number) =>
    context(
      timed("{ name: main }", "{ nackDelayToleranceMs: 400 }", "{ nackAttempts: [1], nackDelayMs: 300 }"),
      [
        deliverAt(10, "a", 1),
        settleAt(12, "a", 1, "nack"),
        deliverAt(redeliveredAt, "a", 2),
        settleAt(redeliveredAt + 1, "a", 2, "ack"),
      ],
      [["a", undefined]],
    );

  it("refuse a redelivery that ignores the nack's delay, and pass one after it", () => {
    expect(checkHistory(nackDelay(20), new Map(), undefined)).toMatchObject([
      { kind: "nack-delay", id: "a" },
    ]);
    expect(checkHistory(nackDelay(330), new Map(), undefined)).toEqual([]);
  });

  it("refuse a redelivery long after the nack's delay", () => {
    expect(checkHistory(nackDelay(900), new Map(), undefined)).toMatchObject([{ kind: "nack-delay" }]);
  });

  const expiry = (redeliveredAt: number, jitter = 0) =>
    context(
      timed(
        `{ name: main, ackDeadlineMs: 500, retry: { minMs: 600, maxMs: 2000, jitter: ${jitter} } }`,
        "{ backoffToleranceMs: 200 }",
        "{ ignoreAttempts: [1] }",
      ),
      [deliverAt(10, "a", 1), deliverAt(redeliveredAt, "a", 2), settleAt(redeliveredAt + 1, "a", 2, "ack")],
      [["a", undefined]],
    );

  it("refuse a redelivery at an expired lease's deadline that skips the backoff", () => {
    expect(checkHistory(expiry(515), new Map(), undefined)).toMatchObject([{ kind: "backoff", id: "a" }]);
    expect(checkHistory(expiry(1115), new Map(), undefined)).toEqual([]);
  });

  it("hold a redelivery after an expiry to the jitter band in both directions", () => {
    expect(checkHistory(expiry(965, 0.25), new Map(), undefined)).toEqual([]);
    expect(checkHistory(expiry(1265, 0.25), new Map(), undefined)).toEqual([]);
    expect(checkHistory(expiry(2000, 0.25), new Map(), undefined)).toMatchObject([{ kind: "backoff" }]);
    expect(checkHistory(expiry(515, 0.25), new Map(), undefined)).toMatchObject([{ kind: "backoff" }]);
  });

  it("time an expiry on the broker's clock when the client reports lease deadlines (no hop in the gap)", () => {
    const onBroker = (began: number) => {
      const ctx = expiry(2000);
      for (const e of ctx.history.entries)
        if (e.op === "deliver")
          Object.assign(e, { leaseDeadline: e.attempt === 1 ? 1_000_500 : began + 500 });
      return checkHistory(ctx, new Map(), undefined);
    };
    expect(onBroker(1_001_100)).toEqual([]);
    expect(onBroker(1_000_510)).toMatchObject([
      { kind: "backoff", detail: expect.stringContaining("broker's clock") },
    ]);
  });

  /** Four nacks in a row, the redelivery after the nack of attempt n coming gaps[n-1] ms later. */
  const nacked = (gaps: number[]) => {
    const entries: HistoryEntry[] = [];
    let at = 10;
    for (const [n, gap] of gaps.entries()) {
      entries.push(deliverAt(at, "a", n + 1), settleAt(at + 1, "a", n + 1, "nack"));
      at += 1 + gap;
    }
    entries.push(deliverAt(at, "a", gaps.length + 1), settleAt(at + 1, "a", gaps.length + 1, "ack"));
    return context(
      timed(
        "{ name: main, retry: { minMs: 100, maxMs: 2000, multiplier: 2 } }",
        "{ backoffToleranceMs: 150 }",
        "{ nackIds: a }",
      ),
      entries,
      [["a", undefined]],
    );
  };

  it("check the backoff at every attempt, so a linear curve is refused at attempt 3's nack", () => {
    expect(checkHistory(nacked([102, 202, 402, 802]), new Map(), undefined)).toEqual([]);
    const linear = checkHistory(nacked([102, 202, 302, 402]), new Map(), undefined);
    expect(linear.map((a) => a.detail)).toEqual([
      expect.stringContaining("after a nack of attempt 3"),
      expect.stringContaining("after a nack of attempt 4"),
    ]);
  });
});
