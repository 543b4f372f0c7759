import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeState, encodeState } from "./codec.js";
import type { DeliveryLease, PartitionDeliveryState } from "./state.js";

const T0 = 1_800_000_000_000;

/** Leases of one claim: `count` contiguous offsets from `first`, one token and deadline. */
function claimed(first: number, count: number, token: string, key?: (offset: number) => string | undefined) {
  return Array.from(
    { length: count },
    (_, i): DeliveryLease => ({
      offset: first + i,
      attempt: 1,
      token,
      deadline: T0 + 30_000,
      held: true,
      key: key?.(first + i),
    }),
  );
}

const states: fc.Arbitrary<PartitionDeliveryState> = fc
  .uniqueArray(
    fc.record({
      offset: fc.nat({ max: 300 }),
      attempt: fc.nat({ max: 4 }),
      token: fc.constantFrom("", "t1", "t2", "tök"),
      deadline: fc.constantFrom(0, T0, T0 + 1000),
      held: fc.boolean(),
      key: fc.constantFrom(undefined, "a", "b", "ключ"),
    }),
    { selector: (lease) => lease.offset, maxLength: 60 },
  )
  .map((leases) => ({ cursor: 301, leases: leases.sort((a, b) => a.offset - b.offset) }));

describe("delivery state codec", () => {
  it("codec - decoding an encoded state gives it back", () => {
    fc.assert(
      fc.property(states, (state) => {
        expect(decodeState(encodeState(state))).toEqual(state);
      }),
    );
  });

  it("codec - thousands of in-flight events from a few claims encode in a few hundred bytes", () => {
    const state = {
      cursor: 6000,
      leases: [...claimed(0, 2000, "c1"), ...claimed(2000, 2000, "c2"), ...claimed(4000, 2000, "c3")],
    };
    const bytes = encodeState(state);
    expect(bytes.byteLength).toBeLessThan(200);
    expect(decodeState(bytes)).toEqual(state);
  });

  it("codec - keys cost one small index per leased event, each key stored once", () => {
    const state = { cursor: 1000, leases: claimed(0, 1000, "c1", (offset) => `customer-${offset % 10}`) };
    const bytes = encodeState(state);
    expect(bytes.byteLength).toBeLessThan(2500);
    expect(decodeState(bytes)).toEqual(state);
  });

  it("codec - a value of another version is refused with the versions named", () => {
    const other = new TextEncoder().encode(JSON.stringify({ v: 2, c: 0, t: [], k: [], r: [] }));
    expect(() => decodeState(other)).toThrow(/version 2 .*expected 1/);
  });
});
