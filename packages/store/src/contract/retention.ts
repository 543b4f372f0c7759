import { describe, expect, it } from "vitest";
import type { Lease, LeaseRef, Store } from "../store.js";
import { claimRequest, events, type StoreFactory, SUB, T0, withSubscription } from "./fixtures.js";

const ref = (lease: Lease | undefined): LeaseRef => ({
  partition: lease?.event.partition ?? -1,
  offset: lease?.event.offset ?? -1,
  token: lease?.token ?? "",
});

/** Topic "t" with subscription "sub" at offset 0: offsets 0-3 published at T0, offsets 4-9 at T0 + 1000. */
async function withOldAndNewEvents(factory: StoreFactory): Promise<Store> {
  const store = await withSubscription(factory);
  await store.append("t", events(4, { size: 100 }), { now: T0, dedupeSince: T0 + 1 });
  await store.append("t", events(6, { size: 100 }), { now: T0 + 1000, dedupeSince: T0 + 1001 });
  return store;
}

export function describeRetention(factory: StoreFactory): void {
  describe("retention and stats", () => {
    it("stats - after retention the backlog counts only the events still retained past the cursor", async () => {
      const store = await withOldAndNewEvents(factory);
      expect((await store.subscriptionStats("sub", T0 + 1000)).backlog).toBe(10);
      expect(await store.trim("t", { olderThan: T0 + 500, maxBytes: 0, dedupeBefore: 0 })).toBe(4);
      expect(await store.subscriptionStats("sub", T0 + 1000)).toEqual({
        backlog: 6,
        inFlight: 0,
        oldestUnackedPublishTime: T0 + 1000,
      });
      expect(await store.trim("t", { olderThan: 0, maxBytes: 300, dedupeBefore: 0 })).toBe(3);
      expect((await store.subscriptionStats("sub", T0 + 1000)).backlog).toBe(3);
      const leases = await store.claim(claimRequest({ now: T0 + 1000 }));
      expect(leases.map((l) => l.event.offset)).toEqual([7, 8, 9]);
      expect(await store.subscriptionStats("sub", T0 + 1000)).toMatchObject({ backlog: 0, inFlight: 3 });
      await store.close();
    });

    it("stats - a pending redelivery or an expired lease of a removed event leaves the backlog", async () => {
      const store = await withOldAndNewEvents(factory);
      const [nacked, acked, held] = await store.claim(claimRequest({ max: 3, now: T0 + 1000 }));
      await store.settle(SUB, { kind: "nack", leases: [ref(nacked)], now: T0 + 1000, until: T0 + 1500 });
      await store.settle(SUB, { kind: "ack", leases: [ref(acked)], now: T0 + 1000 });
      expect(held?.deadline).toBe(T0 + 2000);
      expect(await store.subscriptionStats("sub", T0 + 1000)).toMatchObject({ backlog: 8, inFlight: 1 });
      expect(await store.trim("t", { olderThan: T0 + 500, maxBytes: 0, dedupeBefore: 0 })).toBe(4);
      // the consumer still holds offset 2 until its deadline; offset 0 waited for a redelivery that cannot come
      expect(await store.subscriptionStats("sub", T0 + 1000)).toEqual({
        backlog: 6,
        inFlight: 1,
        oldestUnackedPublishTime: T0 + 1000,
      });
      expect(await store.subscriptionStats("sub", T0 + 2000)).toMatchObject({ backlog: 6, inFlight: 0 });
      const next = await store.claim(claimRequest({ now: T0 + 2000, token: "ltoken2" }));
      expect(next.map((l) => [l.event.offset, l.attempt])).toEqual([
        [4, 1],
        [5, 1],
        [6, 1],
        [7, 1],
        [8, 1],
        [9, 1],
      ]);
      expect(await store.subscriptionStats("sub", T0 + 2000)).toMatchObject({ backlog: 0, inFlight: 6 });
      await store.close();
    });
  });
}
