import { describe, expect, it } from "vitest";
import { checkHistory } from "./checkers.js";
import type { HistoryEntry } from "./history.js";
import { context, deliver, deliverAt, release, SUB, settle, settleAt, tick, yaml } from "./test-support.js";

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

  it("judge a lease on the broker's clock when deliveries carry their deadlines, not on when the runner recorded them", () => {
    const brokerLeasedFirst = 1_764_640_000_000; // epoch ms on the broker's clock
    /** Two copies of `a` under a 300 ms lease: recorded at the given runner times, leased `leasedApartMs` apart. */
    const copies = (recordedAt: [number, number], leasedApartMs: number | undefined) => {
      const first = { ...deliver("a"), at: recordedAt[0], leaseDeadline: brokerLeasedFirst + 300 };
      const second = {
        ...deliver("a", 2),
        at: recordedAt[1],
        leaseDeadline: leasedApartMs === undefined ? undefined : brokerLeasedFirst + leasedApartMs + 300,
      };
      const acked = { ...settle("a", 2), at: recordedAt[1] + 5, end: recordedAt[1] + 6 };
      const spec = yaml("{ allDelivered: true }").replace("ackDeadlineMs: 1000", "ackDeadlineMs: 300");
      const ctx = context(spec, [first, second, acked] as HistoryEntry[], [["a", undefined]]);
      return checkHistory(ctx, new Map(), undefined);
    };
    // a client that recorded the first copy 150 ms late: 199 ms apart on the runner, 350 ms apart on the broker
    expect(copies([160, 359], 350)).toEqual([]);
    expect(copies([160, 459], 300)).toEqual([]); // leased again the instant the first lease ended
    // the broker leased the second copy inside the first lease, however far apart the runner recorded them
    const inside = copies([10, 360], 199);
    expect(inside.map((a) => a.kind)).toEqual(["duplicated-while-leased"]);
    expect(inside[0]?.detail).toBe(
      "attempt 2 leased 199 ms after attempt 1 on the broker's clock, 101 ms before that 300 ms lease ended",
    );
    // without the second deadline (an older adapter), the record times are the fallback
    expect(copies([10, 360], undefined)).toEqual([]);
    expect(copies([160, 359], undefined).map((a) => a.kind)).toEqual(["duplicated-while-leased"]);
  });

  it("do not hold a delivery recorded after its client was killed to the lease window (it left before the kill)", () => {
    const killedC1: HistoryEntry = { op: "fault", at: tick(), fault: "client c1 killed", killed: "c1" };
    const afterKill = context(
      yaml("{ allDelivered: true }"),
      [killedC1, deliver("a"), deliver("a", 2), settle("a", 2)],
      [["a", undefined]],
    );
    expect(checkHistory(afterKill, new Map(), undefined)).toEqual([]);
    const otherClientKilled: HistoryEntry = {
      op: "fault",
      at: tick(),
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
      [deliver("a"), release(), { ...deliver("a", 2), redundant: true } as HistoryEntry, settle("a", 2)],
      [["a", undefined]],
    );
    expect(checkHistory(once, new Map(), undefined)).toEqual([]);
    const twice = context(
      yaml("{ exactlyOnceProcessing: true, noRedeliveryAfterAck: false }"),
      [deliver("a"), release(), deliver("a", 2), settle("a", 2)],
      [["a", undefined]],
    );
    expect(checkHistory(twice, new Map(), undefined)).toMatchObject([{ kind: "processed", id: "a" }]);
  });
});

describe("key order checker", () => {
  const ordered = (entries: HistoryEntry[]) => {
    const ctx = context(yaml("{ allDelivered: true }", true), entries, [
      ["a", "k"],
      ["b", "k"],
    ]);
    ctx.subscribers.set("s2", { subscription: SUB, client: "c2" });
    return checkHistory(ctx, new Map(), undefined);
  };

  it("refuse the next event of a key delivered to another consumer while the previous one is held", () => {
    const held = [
      deliverAt(10, "a", 1, "s1", "k"),
      deliverAt(20, "b", 1, "s2", "k"),
      settleAt(40, "b", 1, "ack", "s2"),
      settleAt(45, "a", 1, "ack", "s1"),
    ];
    expect(ordered(held)).toMatchObject([{ kind: "reordered", id: "b" }]);
  });

  it("refuse the next event of a key delivered while the previous one waits for its redelivery", () => {
    const waiting = [
      deliverAt(10, "a", 1, "s1", "k"),
      settleAt(30, "a", 1, "nack", "s1"),
      deliverAt(40, "b", 1, "s2", "k"),
      settleAt(70, "b", 1, "ack", "s2"),
      deliverAt(150, "a", 2, "s1", "k"),
      settleAt(170, "a", 2, "ack", "s1"),
    ];
    expect(ordered(waiting)).toMatchObject([{ kind: "reordered", id: "b" }]);
  });

  it("pass the next event of a key delivered after the previous one's ack", () => {
    const inTurn = [
      deliverAt(10, "a", 1, "s1", "k"),
      settleAt(40, "a", 1, "ack", "s1"),
      deliverAt(50, "b", 1, "s2", "k"),
      settleAt(80, "b", 1, "ack", "s2"),
    ];
    expect(ordered(inTurn)).toEqual([]);
  });
});

describe("events are (source, id)", () => {
  it("take one id from two sources as two events, and the same source again as a duplicate", () => {
    const publish = (source: string, duplicate: boolean, offset: number): HistoryEntry => ({
      op: "publish",
      at: tick(),
      end: tick(),
      client: "c1",
      ids: ["x"],
      keys: [undefined],
      sources: [source],
      ok: true,
      duplicate: [duplicate],
      offsets: [offset],
      partitions: [0],
    });
    const fromSource = (source: string, attempt: number): HistoryEntry =>
      ({ ...(deliver("x", attempt) as object), attributes: { source } }) as unknown as HistoryEntry;
    const run = (entries: HistoryEntry[]) => {
      const ctx = context(yaml("{ duplicatesReported: true }"), [], [["x", undefined]]);
      for (const e of entries) ctx.history.add(e);
      return checkHistory(ctx, new Map(), undefined).filter((a) => a.kind !== "lost");
    };
    const a1 = fromSource("/a", 1);
    const b1 = fromSource("/b", 1);
    const ackOf = (d: HistoryEntry) => ({
      ...(settle("x") as object),
      deliveryId: (d as { deliveryId: string }).deliveryId,
    });
    const twoEvents = [publish("/a", false, 0), publish("/b", false, 1), publish("/a", true, 0)];
    expect(
      run([...twoEvents, a1, ackOf(a1) as HistoryEntry, { ...b1, deliveryId: "x.b" } as HistoryEntry]),
    ).toEqual([]);
    expect(run([publish("/a", false, 0), publish("/a", false, 1)])).toMatchObject([
      { kind: "publish", id: "x", detail: "publishes of one id returned different offsets 0, 1" },
      { kind: "publish", id: "x" },
    ]);
  });
});
