import { describe, expect, it } from "vitest";
import type { StoredEvent } from "../store.js";
import { claim } from "./claim.js";
import type { EventReader } from "./events.js";
import { dropRemoved } from "./retention.js";
import type { DeliveryLease, PartitionDeliveryState } from "./state.js";

const T0 = 1_800_000_000_000;

/** Events 0..count-1, all with key "k", of which those below `start` were removed by retention. */
function log(count: number, start: number): EventReader {
  const events = Array.from(
    { length: count },
    (_, offset): StoredEvent => ({
      partition: 0,
      offset,
      publishTime: T0,
      key: "k",
      data: new Uint8Array(1),
    }),
  );
  return {
    at: (offset) => (offset >= start ? events[offset] : undefined),
    from: (offset, limit) => events.slice(Math.max(offset, start), Math.max(offset, start) + limit),
  };
}

const lease = (offset: number, held: boolean, deadline: number): DeliveryLease => ({
  offset,
  attempt: held ? 1 : 2,
  token: held ? "t1" : "",
  deadline,
  held,
  key: "k",
});

describe("delivery rules: retention", () => {
  it("trim - waiting leases of removed events are dropped at once, held ones stay for their consumer's ack", () => {
    const state: PartitionDeliveryState = {
      cursor: 4,
      leases: [lease(0, false, T0 + 60_000), lease(1, true, T0 + 1000), lease(2, false, T0)],
    };
    const after = dropRemoved(state, log(4, 2));
    expect(after.leases.map((l) => l.offset)).toEqual([1, 2]);
    expect(dropRemoved(after, log(4, 2))).toBe(after);
  });

  it("trim - a nacked lease of a removed event no longer blocks its key on an ordered subscription", () => {
    const state: PartitionDeliveryState = { cursor: 1, leases: [lease(0, false, T0 + 60_000)] };
    const input = {
      subscription: "sub",
      partition: 0,
      max: 10,
      maxBytes: 1 << 20,
      now: T0,
      leaseMs: 1000,
      token: "t2",
      autoAck: false,
      ordered: true,
    };
    const reader = log(3, 1);
    const blocked = claim(state, input, reader);
    expect(blocked.leases).toEqual([]); // parked behind the removed event's lease until T0 + 60 s
    const freed = claim(dropRemoved(state, reader), input, reader);
    expect(freed.leases.map((l) => l.event.offset)).toEqual([1]);
  });
});
