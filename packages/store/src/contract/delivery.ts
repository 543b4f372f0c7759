import { describe, expect, it } from "vitest";
import type { Lease, LeaseRef } from "../store.js";
import { claimRequest, events, noDedupe, type StoreFactory, SUB, T0, withSubscription } from "./fixtures.js";

const ref = (lease: Lease | undefined): LeaseRef => ({
  partition: lease?.event.partition ?? -1,
  offset: lease?.event.offset ?? -1,
  token: lease?.token ?? "",
});

export function describeDelivery(factory: StoreFactory): void {
  describe("claim and settle", () => {
    it("claim - leases new events from the cursor in order with attempt 1, up to max, and moves the cursor", async () => {
      const store = await withSubscription(factory);
      await store.append("t", events(5), noDedupe);
      const first = await store.claim(claimRequest({ max: 3 }));
      expect(first.map((l) => [l.event.offset, l.attempt, l.token, l.deadline])).toEqual([
        [0, 1, "ltoken1", T0 + 1000],
        [1, 1, "ltoken1", T0 + 1000],
        [2, 1, "ltoken1", T0 + 1000],
      ]);
      const second = await store.claim(claimRequest({ max: 10, token: "ltoken2" }));
      expect(second.map((l) => l.event.offset)).toEqual([3, 4]);
      expect([...(await store.claim(claimRequest()))]).toEqual([]);
      await store.close();
    });

    it("claim - stops before maxBytes, but always takes the first event", async () => {
      const store = await withSubscription(factory);
      await store.append("t", events(3, { size: 100 }), noDedupe);
      expect(await store.claim(claimRequest({ maxBytes: 250 }))).toHaveLength(2);
      expect(await store.claim(claimRequest({ maxBytes: 10 }))).toHaveLength(1);
      await store.close();
    });

    it("claim - an expired lease is claimed again with attempt + 1 and the new token, before new events", async () => {
      const store = await withSubscription(factory);
      await store.append("t", events(1), noDedupe);
      const [lease] = await store.claim(claimRequest());
      const early = await store.claim(claimRequest({ now: T0 + 999, token: "ltoken2" }));
      expect([...early]).toEqual([]);
      expect(early.nextVisibleAt).toBe(T0 + 1000); // an idle consumer sleeps until then
      await store.append("t", events(1), noDedupe);
      const again = await store.claim(claimRequest({ now: T0 + 1000, token: "ltoken2" }));
      expect(again.map((l) => [l.event.offset, l.attempt, l.token])).toEqual([
        [0, 2, "ltoken2"],
        [1, 1, "ltoken2"],
      ]);
      expect(await store.settle(SUB, { kind: "ack", leases: [ref(lease)], now: T0 + 1000 })).toEqual([false]);
      await store.close();
    });

    it("settle - an acked event is never claimed again, even after its deadline", async () => {
      const store = await withSubscription(factory);
      await store.append("t", events(2), noDedupe);
      const leases = await store.claim(claimRequest());
      expect(await store.settle(SUB, { kind: "ack", leases: leases.map(ref), now: T0 + 10 })).toEqual([
        true,
        true,
      ]);
      expect([...(await store.claim(claimRequest({ now: T0 + 100_000 })))]).toEqual([]);
      expect(await store.settle(SUB, { kind: "ack", leases: leases.map(ref), now: T0 + 10 })).toEqual([
        false,
        false,
      ]);
      await store.close();
    });

    it("settle - a nack makes the event visible again at `until`, no earlier", async () => {
      const store = await withSubscription(factory);
      await store.append("t", events(1), noDedupe);
      const [lease] = await store.claim(claimRequest());
      expect(
        await store.settle(SUB, { kind: "nack", leases: [ref(lease)], now: T0 + 1, until: T0 + 500 }),
      ).toEqual([true]);
      const early = await store.claim(claimRequest({ now: T0 + 499, token: "ltoken2" }));
      expect([...early]).toEqual([]);
      expect(early.nextVisibleAt).toBe(T0 + 500);
      const [again] = await store.claim(claimRequest({ now: T0 + 500, token: "ltoken2" }));
      expect(again?.attempt).toBe(2);
      // a nacked lease cannot be settled again with its old token
      expect(await store.settle(SUB, { kind: "ack", leases: [ref(lease)], now: T0 + 501 })).toEqual([false]);
      await store.close();
    });

    it("settle - extend moves the deadline; term removes the lease for good", async () => {
      const store = await withSubscription(factory);
      await store.append("t", events(2), noDedupe);
      const [a, b] = await store.claim(claimRequest());
      expect(
        await store.settle(SUB, { kind: "extend", leases: [ref(a)], now: T0 + 900, until: T0 + 5000 }),
      ).toEqual([true]);
      const reclaimed = await store.claim(claimRequest({ now: T0 + 2000, token: "ltoken2" }));
      expect(reclaimed.map((l) => l.event.offset)).toEqual([1]);
      expect(await store.settle(SUB, { kind: "term", leases: [ref(a)], now: T0 + 2000 })).toEqual([true]);
      expect(await store.claim(claimRequest({ now: T0 + 10_000, token: "ltoken3" }))).toHaveLength(1); // b only
      expect(b?.event.offset).toBe(1);
      await store.close();
    });

    it("settle - a wrong token, an expired lease or an unknown offset do not match; allOrNothing then changes nothing", async () => {
      const store = await withSubscription(factory);
      await store.append("t", events(2), noDedupe);
      const [a, b] = await store.claim(claimRequest());
      const wrong = { ...ref(a), token: "lother" };
      const unknown = { partition: 0, offset: 99, token: "ltoken1" };
      expect(await store.settle(SUB, { kind: "ack", leases: [wrong, unknown], now: T0 })).toEqual([
        false,
        false,
      ]);
      expect(await store.settle(SUB, { kind: "ack", leases: [ref(a)], now: T0 + 1000 })).toEqual([false]);
      const mixed = await store.settle(SUB, {
        kind: "ack",
        leases: [ref(b), wrong],
        now: T0 + 10,
        allOrNothing: true,
      });
      expect(mixed).toEqual([true, false]);
      expect((await store.subscriptionStats("sub", T0 + 10)).inFlight).toBe(2);
      await store.close();
    });

    it("claim - autoAck (at-most-once) moves the cursor and keeps no lease", async () => {
      const store = await withSubscription(factory);
      await store.append("t", events(2), noDedupe);
      const leases = await store.claim(claimRequest({ autoAck: true, token: "mtoken" }));
      expect(leases.map((l) => [l.event.offset, l.attempt, l.deadline])).toEqual([
        [0, 1, 0],
        [1, 1, 0],
      ]);
      expect([...(await store.claim(claimRequest({ now: T0 + 100_000 })))]).toEqual([]);
      expect(await store.subscriptionStats("sub", T0)).toMatchObject({ backlog: 0, inFlight: 0 });
      await store.close();
    });

    it("seek - moves the cursor and drops every lease", async () => {
      const store = await withSubscription(factory);
      await store.append("t", events(3), noDedupe);
      const leases = await store.claim(claimRequest());
      await store.seek(SUB, [1]);
      expect(await store.settle(SUB, { kind: "ack", leases: leases.map(ref), now: T0 })).toEqual([
        false,
        false,
        false,
      ]);
      const again = await store.claim(claimRequest({ token: "ltoken2" }));
      expect(again.map((l) => [l.event.offset, l.attempt])).toEqual([
        [1, 1],
        [2, 1],
      ]);
      await store.close();
    });

    it("stats - backlog, in flight and the oldest unacked publish time", async () => {
      const store = await withSubscription(factory, 2);
      await store.append("t", events(3), { now: T0, dedupeSince: T0 + 1 });
      await store.append("t", events(2, { partition: 1 }), { now: T0 + 50, dedupeSince: T0 + 51 });
      const [a, b] = await store.claim(claimRequest({ max: 2 }));
      await store.settle(SUB, { kind: "ack", leases: [ref(a)], now: T0 });
      expect(await store.subscriptionStats("sub", T0)).toEqual({
        backlog: 3,
        inFlight: 1,
        oldestUnackedPublishTime: T0,
      });
      await store.settle(SUB, { kind: "nack", leases: [ref(b)], now: T0, until: T0 + 10 });
      expect(await store.subscriptionStats("sub", T0)).toMatchObject({ backlog: 4, inFlight: 0 });
      await store.close();
    });

    it("claim - concurrent claims by many consumers never lease one event twice", async () => {
      const store = await withSubscription(factory, 2);
      await store.append("t", [...events(50), ...events(50, { partition: 1 })], noDedupe);
      const claims = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          store.claim(claimRequest({ partition: i % 2, consumer: `c${i}`, max: 7, token: `lt${i}` })),
        ),
      );
      const seen = claims.flat().map((l) => `${l.event.partition}:${l.event.offset}`);
      expect(new Set(seen).size).toBe(seen.length);
      expect(seen.length).toBe(70);
      await store.close();
    });
  });
}
