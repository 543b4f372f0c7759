import { describe, expect, it } from "vitest";
import { retryDelay } from "./retry.js";
import { settleAcross } from "./settle.js";
import type { DeliveryLease, PartitionDeliveryState } from "./state.js";

const T0 = 1_800_000_000_000;
const retry = { minMs: 100, maxMs: 10_000, multiplier: 2, jitter: 0.5 };
const held = (offset: number, attempt: number): DeliveryLease => ({
  offset,
  attempt,
  token: "t",
  deadline: T0 + 1000,
  held: true,
  key: undefined,
});
const states: PartitionDeliveryState[] = [{ cursor: 3, leases: [held(0, 1), held(1, 3), held(2, 3)] }];
const handles = [0, 1, 2].map((offset) => ({ partition: 0, offset, token: "t" }));
const delay = (offset: number, attempt: number) =>
  retryDelay(retry, { subscription: "sub", partition: 0, offset, attempt });

describe("delivery rules: settle across partitions", () => {
  it("settleAcross - a nack with backoff waits the delay of each lease's stored attempt and reports those instants", () => {
    const backoff = { subscription: "sub", retry };
    const outcome = settleAcross((p) => states[p], { kind: "nack", leases: handles, now: T0, backoff });
    const waits = outcome.states.get(0)?.leases.map((lease) => [lease.held, lease.deadline - T0]);
    expect(waits).toEqual([
      [false, delay(0, 1)],
      [false, delay(1, 3)],
      [false, delay(2, 3)],
    ]);
    const expected = [...new Set([delay(0, 1), delay(1, 3), delay(2, 3)])].sort((a, b) => a - b);
    expect(outcome.visibleAt).toEqual(expected.map((ms) => T0 + ms));
  });

  it("settleAcross - allOrNothing with one stale handle changes nothing, reports nothing to wake and no dead letter", () => {
    const stale = [...handles, { partition: 0, offset: 9, token: "t" }];
    const deadLetter = { topic: "dlq", events: [] };
    const outcome = settleAcross((p) => states[p], {
      kind: "term",
      leases: stale,
      now: T0,
      allOrNothing: true,
      deadLetter,
    });
    expect(outcome.matches).toEqual([true, true, true, false]);
    expect([outcome.states.size, outcome.visibleAt, outcome.deadLetters]).toEqual([0, [], []]);
  });
});
