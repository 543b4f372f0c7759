import { describe, expect, it } from "vitest";
import type { Lease, LeaseRef } from "../store.js";
import {
  claimRequest,
  events,
  noDedupe,
  type StoreFactory,
  SUB,
  T0,
  topic,
  withSubscription,
} from "./fixtures.js";

const ref = (lease: Lease | undefined): LeaseRef => ({
  partition: lease?.event.partition ?? -1,
  offset: lease?.event.offset ?? -1,
  token: lease?.token ?? "",
});
const offsets = (leases: Lease[]) => leases.map((l) => l.event.offset);

export function describeOrdering(factory: StoreFactory): void {
  describe("ordered claims, expiry backoff, requeue and retention", () => {
    it("ordered - one event per key at a time, in offset order; other keys and keyless events flow", async () => {
      const store = await withSubscription(factory);
      await store.append(
        "t",
        [...events(2, { key: "a" }), ...events(1, { key: "b" }), ...events(1), ...events(1, { key: "a" })],
        noDedupe,
      );
      const first = await store.claim(claimRequest({ ordered: true }));
      expect(offsets(first)).toEqual([0, 2, 3]); // a#0, b#2, keyless #3; a#1 and a#4 wait behind a#0
      expect([...(await store.claim(claimRequest({ ordered: true, token: "ltoken2" })))]).toEqual([]);
      await store.settle(SUB, { kind: "ack", leases: [ref(first[0])], now: T0 + 1 });
      const next = await store.claim(claimRequest({ ordered: true, now: T0 + 1, token: "ltoken3" }));
      expect(next.map((l) => [l.event.offset, l.attempt])).toEqual([[1, 1]]);
      expect((await store.subscriptionStats("sub", T0 + 1)).backlog).toBe(1); // a#4 parked
      await store.close();
    });

    it("ordered - a nacked event keeps its key blocked until it is redelivered and acked", async () => {
      const store = await withSubscription(factory);
      await store.append("t", events(3, { key: "k" }), noDedupe);
      const [head] = await store.claim(claimRequest({ ordered: true }));
      await store.settle(SUB, { kind: "nack", leases: [ref(head)], now: T0 + 1, until: T0 + 100 });
      expect([...(await store.claim(claimRequest({ ordered: true, now: T0 + 50, token: "l2" })))]).toEqual(
        [],
      );
      const [again] = await store.claim(claimRequest({ ordered: true, now: T0 + 100, token: "l3" }));
      expect([again?.event.offset, again?.attempt]).toEqual([0, 2]);
      await store.settle(SUB, { kind: "ack", leases: [ref(again)], now: T0 + 101 });
      const rest = await store.claim(claimRequest({ ordered: true, now: T0 + 101, token: "l4" }));
      expect(offsets(rest)).toEqual([1]);
      await store.close();
    });

    it("ordered - concurrent consumers never hold two events of one key", async () => {
      const store = await withSubscription(factory);
      await store.append("t", [...events(5, { key: "x" }), ...events(5, { key: "y" })], noDedupe);
      const claims = await Promise.all(
        [1, 2, 3, 4].map((i) =>
          store.claim(claimRequest({ ordered: true, consumer: `c${i}`, max: 3, token: `l${i}` })),
        ),
      );
      const keys = claims.flat().map((l) => l.event.key);
      expect(keys.sort()).toEqual(["x", "y"]);
      await store.close();
    });

    it("expiry backoff - an expired lease waits deadline + delay before it is claimed again", async () => {
      const store = await withSubscription(factory);
      await store.append("t", events(1), noDedupe);
      await store.claim(claimRequest());
      const retry = { minMs: 500, maxMs: 5000, multiplier: 1, jitter: 0 }; // 500 ms after any attempt
      expect([...(await store.claim(claimRequest({ now: T0 + 1499, retry, token: "l2" })))]).toEqual([]);
      const [again] = await store.claim(claimRequest({ now: T0 + 1500, retry, token: "l3" }));
      expect(again?.attempt).toBe(2);
      await store.close();
    });

    it("requeue - makes events deliverable again to one subscription only, once", async () => {
      const store = await withSubscription(factory);
      await store.createSubscription(
        { ...(await store.getSubscription("sub")), name: "other" } as never,
        [1],
      );
      await store.append("t", events(1), noDedupe);
      const [lease] = await store.claim(claimRequest());
      await store.settle(SUB, { kind: "term", leases: [ref(lease)], now: T0 });
      expect(
        await store.requeue(
          SUB,
          [
            { partition: 0, offset: 0 },
            { partition: 0, offset: 9 },
          ],
          T0 + 10,
        ),
      ).toBe(1);
      expect(await store.requeue(SUB, [{ partition: 0, offset: 0 }], T0 + 10)).toBe(0);
      const [again] = await store.claim(claimRequest({ now: T0 + 10, token: "l2" }));
      expect([again?.event.offset, again?.attempt]).toEqual([0, 1]);
      expect(await store.claim(claimRequest({ subscription: "other", now: T0 + 10, token: "l3" }))).toEqual(
        [],
      );
      await store.close();
    });

    it("trim - removes events by age and by size, moves the start offset, never reuses offsets", async () => {
      const store = await factory.open();
      await store.createTopic(topic("t"));
      await store.append("t", events(3, { size: 100 }), { now: T0, dedupeSince: T0 - 1 });
      await store.append("t", events(3, { size: 100 }), { now: T0 + 1000, dedupeSince: T0 + 999 });
      expect(await store.trim("t", { olderThan: T0 + 500, maxBytes: 0, dedupeBefore: T0 + 500 })).toBe(3);
      expect((await store.partitionStats("t"))[0]).toEqual({
        partition: 0,
        startOffset: 3,
        endOffset: 6,
        eventCount: 3,
        bytes: 300,
      });
      expect(await store.trim("t", { olderThan: 0, maxBytes: 150, dedupeBefore: 0 })).toBe(2);
      expect((await store.partitionStats("t"))[0]).toMatchObject({
        startOffset: 5,
        eventCount: 1,
        bytes: 100,
      });
      const [next] = await store.append("t", events(1), noDedupe);
      expect(next?.offset).toBe(6);
      await store.close();
    });

    it("trim - a trimmed dedupe entry no longer makes a repeat a duplicate", async () => {
      const store = await factory.open();
      await store.createTopic(topic("t"));
      const batch = events(1);
      await store.append("t", batch, { now: T0, dedupeSince: 0 });
      await store.trim("t", { olderThan: 0, maxBytes: 0, dedupeBefore: T0 + 1 });
      const [again] = await store.append("t", batch, { now: T0 + 2, dedupeSince: 0 });
      expect(again?.duplicate).toBe(false);
      await store.close();
    });
  });
}
