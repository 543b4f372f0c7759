import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { StoredEvent } from "../store.js";
import { claim } from "./claim.js";
import { partitionCounts } from "./counts.js";
import type { EventReader } from "./events.js";
import { type RemoteEvents, withRemoteEvents } from "./prefetch.js";
import { requeue } from "./requeue.js";
import { settle } from "./settle.js";
import type { PartitionDeliveryState } from "./state.js";

const T0 = 1_800_000_000_000;

/** A log of `count` events, those below `start` removed by retention, with keys from a small set and sizes 1..40. */
function makeLog(count: number, start: number, seed: number): StoredEvent[] {
  return Array.from({ length: count }, (_, offset) => ({
    partition: 0,
    offset,
    publishTime: T0 + offset,
    key: (offset * seed) % 3 === 0 ? undefined : `k${(offset + seed) % 4}`,
    data: new Uint8Array(1 + ((offset * 7 + seed) % 40)),
  })).filter((event) => event.offset >= start);
}

function localReader(events: StoredEvent[]): EventReader {
  return {
    at: (offset) => events.find((event) => event.offset === offset),
    from: (offset, limit) => events.filter((event) => event.offset >= offset).slice(0, limit),
  };
}

/** The same log read asynchronously, counting the reads. */
function remote(events: StoredEvent[], reads: { count: number }): RemoteEvents {
  const local = localReader(events);
  return {
    at: async (offsets) => {
      reads.count++;
      return offsets.flatMap((offset) => local.at(offset) ?? []);
    },
    from: async (offset, limit) => {
      reads.count++;
      return local.from(offset, limit);
    },
  };
}

/** A state reached by claims, nacks and a requeue over the log, so it has held, waiting, parked and expired leases. */
function stateAfter(events: StoredEvent[], ordered: boolean, steps: number[]): PartitionDeliveryState {
  const reader = localReader(events);
  let state: PartitionDeliveryState = { cursor: events[0]?.offset ?? 0, leases: [] };
  steps.forEach((step, index) => {
    const now = T0 + index * 100;
    const base = { subscription: "s", partition: 0, maxBytes: 120, leaseMs: 150, token: `t${index}` };
    const outcome = claim(state, { ...base, max: 1 + (step % 5), now, autoAck: false, ordered }, reader);
    state = outcome.state;
    const nacked = outcome.leases.filter((_, i) => (i + step) % 3 === 0);
    const handles = nacked.map((lease) => ({ offset: lease.event.offset, token: lease.token }));
    state = settle(state, { kind: "nack", leases: handles, now, until: now + (step % 2) * 300 }).state;
    if (step % 4 === 0) state = requeue(state, [0, 1, 2], now, reader).state;
  });
  return state;
}

describe("delivery rules over a remote log (withRemoteEvents)", () => {
  it("withRemoteEvents - a claim gives what it gives over a local reader, whatever the state and log", async () => {
    const arbitrary = fc.record({
      count: fc.integer({ min: 0, max: 30 }),
      start: fc.integer({ min: 0, max: 10 }),
      seed: fc.integer({ min: 1, max: 9 }),
      ordered: fc.boolean(),
      steps: fc.array(fc.integer({ min: 0, max: 20 }), { maxLength: 6 }),
      max: fc.integer({ min: 1, max: 8 }),
      maxBytes: fc.integer({ min: 1, max: 100 }),
      later: fc.integer({ min: 0, max: 2000 }),
    });
    await fc.assert(
      fc.asyncProperty(arbitrary, async (c) => {
        const events = makeLog(c.count, c.start, c.seed);
        const state = stateAfter(makeLog(c.count, 0, c.seed), c.ordered, c.steps);
        const input = {
          subscription: "s",
          partition: 0,
          max: c.max,
          maxBytes: c.maxBytes,
          now: T0 + 1000 + c.later,
          leaseMs: 100,
          token: "z",
          autoAck: false,
          ordered: c.ordered,
          retry: { minMs: 50, maxMs: 400, multiplier: 2, jitter: 0.5 },
        };
        const reads = { count: 0 };
        const expected = claim(state, input, localReader(events));
        const got = await withRemoteEvents(remote(events, reads), (reader) => claim(state, input, reader));
        expect(got).toEqual(expected);
        expect(reads.count).toBeLessThanOrEqual(4);
        const range = { startOffset: Math.min(c.start, c.count), endOffset: c.count };
        const countReads = { count: 0 };
        const counts = await withRemoteEvents(remote(events, countReads), (reader) =>
          partitionCounts(state, range, input.now, reader),
        );
        expect(counts).toEqual(partitionCounts(state, range, input.now, localReader(events)));
        expect(countReads.count).toBeLessThanOrEqual(2);
      }),
      { numRuns: 300 },
    );
  });

  it("withRemoteEvents - reads nothing when the rule needs nothing, and reads a missed scan once", async () => {
    const events = makeLog(10, 0, 1);
    const reads = { count: 0 };
    const state = { cursor: 10, leases: [] };
    const input = {
      subscription: "s",
      partition: 0,
      max: 5,
      maxBytes: 1000,
      now: T0,
      leaseMs: 10,
      token: "a",
      autoAck: false,
    };
    const none = await withRemoteEvents(remote(events, reads), () => 42);
    expect([none, reads.count]).toEqual([42, 0]);
    const outcome = await withRemoteEvents(remote(events, reads), (reader) =>
      claim({ ...state, cursor: 3 }, input, reader),
    );
    expect(outcome.leases.map((lease) => lease.event.offset)).toEqual([3, 4, 5, 6, 7]);
    expect(reads.count).toBe(1);
  });
});
