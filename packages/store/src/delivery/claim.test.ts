import { describe, expect, it } from "vitest";
import type { StoredEvent } from "../store.js";
import { type ClaimInput, claim } from "./claim.js";
import type { EventReader } from "./events.js";
import { retryDelay } from "./retry.js";
import type { DeliveryLease, PartitionDeliveryState } from "./state.js";

const T0 = 1_800_000_000_000;

/** A log of `count` events (offsets 0..count-1) of which those below `start` were removed by retention. */
function log(count: number, start = 0, key?: (offset: number) => string | undefined): EventReader {
  const events = Array.from(
    { length: count },
    (_, offset): StoredEvent => ({
      partition: 0,
      offset,
      publishTime: T0,
      key: key?.(offset),
      data: new Uint8Array(10),
    }),
  );
  return {
    at: (offset) => (offset >= start ? events[offset] : undefined),
    from: (offset, limit) => events.slice(Math.max(offset, start), Math.max(offset, start) + limit),
  };
}

const input = (overrides: Partial<ClaimInput> = {}): ClaimInput => ({
  subscription: "sub",
  partition: 0,
  max: 10,
  maxBytes: 1 << 30,
  now: T0,
  leaseMs: 1000,
  token: "t2",
  autoAck: false,
  ...overrides,
});

const held = (offset: number, deadline: number, attempt = 1): DeliveryLease => ({
  offset,
  attempt,
  token: "t1",
  deadline,
  held: true,
  key: undefined,
});
const waiting = (offset: number, deadline: number, attempt = 1): DeliveryLease => ({
  ...held(offset, deadline, attempt),
  held: false,
});
const offsets = (outcome: { leases: { event: StoredEvent }[] }) => outcome.leases.map((l) => l.event.offset);

describe("delivery rules: claim", () => {
  it("claim - leases waiting out their retry delay do not use up max: a visible redelivery still comes first", () => {
    const retry = { minMs: 1000, maxMs: 1000, multiplier: 1, jitter: 0 };
    const state = { cursor: 5, leases: [held(0, T0 - 10), held(1, T0 - 10), waiting(2, T0 - 1)] };
    const outcome = claim(state, input({ max: 2, retry }), log(6));
    expect(outcome.leases.map((l) => [l.event.offset, l.attempt])).toEqual([
      [2, 2],
      [5, 1],
    ]);
  });

  it("claim - a visible lease of an event retention removed is dropped without using up max", () => {
    const state = { cursor: 3, leases: [waiting(0, T0), waiting(1, T0), waiting(2, T0)] };
    const outcome = claim(state, input({ max: 1 }), log(4, 2));
    expect(offsets(outcome)).toEqual([2]);
    expect(outcome.state.leases.map((l) => l.offset)).toEqual([2]);
  });

  it("claim - an expired lease comes back at its deadline plus the retry delay of its attempt, not before", () => {
    const retry = { minMs: 100, maxMs: 5000, multiplier: 2, jitter: 0.5 };
    const state = { cursor: 1, leases: [held(0, T0, 2)] };
    const at = T0 + retryDelay(retry, { subscription: "sub", partition: 0, offset: 0, attempt: 2 });
    expect(claim(state, input({ now: at - 1, retry }), log(1)).leases).toEqual([]);
    expect(claim(state, input({ now: at, retry }), log(1)).leases.map((l) => l.attempt)).toEqual([3]);
  });

  it("claim - one that takes nothing tells when the earliest lease becomes claimable again, its retry delay included", () => {
    const retry = { minMs: 100, maxMs: 5000, multiplier: 2, jitter: 0.5 };
    const state = { cursor: 3, leases: [held(0, T0 + 500, 2), waiting(1, T0 + 300), held(2, T0 + 200)] };
    const delay = (offset: number, attempt: number) =>
      retryDelay(retry, { subscription: "sub", partition: 0, offset, attempt });
    const expected = Math.min(T0 + 500 + delay(0, 2), T0 + 300, T0 + 200 + delay(2, 1));
    expect(claim(state, input({ retry }), log(3)).nextVisibleAt).toBe(expected);
    expect(claim({ cursor: 3, leases: [] }, input(), log(3)).nextVisibleAt).toBeUndefined();
    expect(claim(state, input({ retry }), log(4)).nextVisibleAt).toBeUndefined(); // it took offset 3
  });

  it("claim - ordered: a new event whose key has a lease is parked at attempt 0 and the cursor moves past it", () => {
    const reader = log(3, 0, (offset) => (offset < 2 ? "k" : undefined));
    const outcome = claim({ cursor: 0, leases: [] }, input({ ordered: true }), reader);
    expect(offsets(outcome)).toEqual([0, 2]);
    expect(outcome.state.cursor).toBe(3);
    expect(outcome.state.leases.map((l) => [l.offset, l.attempt, l.held])).toEqual([
      [0, 1, true],
      [1, 0, false],
      [2, 1, true],
    ]);
  });

  it("claim - never changes the state it is given, and gives it back when nothing changed", () => {
    const leases = [held(0, T0 + 500)];
    const state: PartitionDeliveryState = { cursor: 1, leases };
    const frozen = JSON.stringify(state);
    const outcome = claim(state, input(), log(3));
    expect(offsets(outcome)).toEqual([1, 2]);
    expect(JSON.stringify(state)).toBe(frozen);
    const idle = claim(outcome.state, input(), log(3));
    expect(idle.state).toBe(outcome.state);
  });

  it("claim - a filter passes over rejected events: no lease, the cursor moves past them, they are counted", () => {
    const onlyEvery100th = (event: StoredEvent) => event.offset % 100 === 99;
    const outcome = claim({ cursor: 0, leases: [] }, input({ max: 2, filter: onlyEvery100th }), log(1000));
    expect(offsets(outcome)).toEqual([99, 199]); // it reads past max events to find matches
    expect(outcome.state.cursor).toBe(200);
    expect(outcome.state.leases.map((l) => l.offset)).toEqual([99, 199]);
    expect(outcome.passedOver).toBe(198);
    const none = claim({ cursor: 0, leases: [] }, input({ max: 2, filter: () => false }), log(1000));
    expect([none.leases.length, none.passedOver, none.state.cursor]).toEqual([0, 512, 512]);
  });

  it("claim - a filter drops a visible lease of an event it rejects, and counts it", () => {
    const state = { cursor: 2, leases: [waiting(0, T0), waiting(1, T0)] };
    const outcome = claim(state, input({ filter: (event) => event.offset !== 0 }), log(2));
    expect(offsets(outcome)).toEqual([1]);
    expect(outcome.passedOver).toBe(1);
    expect(outcome.state.leases.map((l) => l.offset)).toEqual([1]);
  });
});
