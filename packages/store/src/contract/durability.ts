import { describe, expect, it } from "vitest";
import { claimRequest, events, type StoreFactory, SUB, T0, withSubscription } from "./fixtures.js";

export function describeDurability(factory: StoreFactory): void {
  const reopen = factory.reopen;
  describe.skipIf(!reopen)("durability", () => {
    it("reopen - events, dedupe entries, cursors and leases survive closing and reopening", async () => {
      const store = await withSubscription(factory);
      const batch = events(3);
      await store.append("t", batch, { now: T0, dedupeSince: T0 - 1000 });
      const [lease] = await store.claim(claimRequest({ max: 1 }));
      await store.close();
      const again = await (reopen as () => Promise<typeof store>)();
      expect((await again.read("t", 0, 0, 10)).map((e) => e.offset)).toEqual([0, 1, 2]);
      const [dup] = await again.append("t", [batch[1] as (typeof batch)[number]], {
        now: T0 + 1,
        dedupeSince: T0 - 1000,
      });
      expect(dup).toEqual({ partition: 0, offset: 1, duplicate: true });
      expect(
        await again.settle(SUB, {
          kind: "ack",
          leases: [{ partition: 0, offset: 0, token: lease?.token ?? "" }],
          now: T0 + 2,
        }),
      ).toEqual([true]);
      const next = await again.claim(claimRequest({ now: T0 + 3, token: "ltoken2" }));
      expect(next.map((l) => l.event.offset)).toEqual([1, 2]);
      await again.close();
    });
  });
}
