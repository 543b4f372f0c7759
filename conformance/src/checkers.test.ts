import { describe, expect, it } from "vitest";
import { parseSuite } from "./case.js";
import type { CaseContext } from "./case-context.js";
import { checkHistory } from "./checkers.js";
import { excuseTable, excusingFaults, faultKindOf, guarantees } from "./excuses.js";
import { createHistory, type FaultKind, faultKinds, type HistoryEntry } from "./history.js";

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

/** A clean close of subscriber s1: the one fault that releases its leases at once (src/excuses.ts). */
const release = (): HistoryEntry => ({
  op: "fault",
  at: ++clock,
  fault: "unsubscribed s1",
  kind: "unsubscribe",
  subscriber: "s1",
});

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

const timed = (yamlSubscription: string, expect: string, policy = "{}") => `- id: t
  name: t
  guarantee: g
  subscriptions: [${yamlSubscription}]
  steps: [{ subscribe: { subscriber: s1, subscription: main, policy: ${policy} } }]
  expect: ${expect}
`;
const deliverAt = (
  at: number,
  id: string,
  attempt: number,
  subscriber = "s1",
  key?: string,
): HistoryEntry => ({
  ...(deliver(id, attempt, key) as Extract<HistoryEntry, { op: "deliver" }>),
  at,
  subscriber,
  client: subscriber === "s1" ? "c1" : "c2",
});
const settleAt = (
  at: number,
  id: string,
  attempt: number,
  action: "ack" | "nack",
  subscriber = "s1",
): HistoryEntry => ({
  ...(settle(id, attempt) as Extract<HistoryEntry, { op: "settle" }>),
  at,
  end: at + 2,
  action,
  subscriber,
});

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

describe("events are (source, id)", () => {
  it("take one id from two sources as two events, and the same source again as a duplicate", () => {
    const publish = (source: string, duplicate: boolean, offset: number): HistoryEntry => ({
      op: "publish",
      at: ++clock,
      end: ++clock,
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
