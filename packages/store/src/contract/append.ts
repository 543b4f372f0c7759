import { describe, expect, it } from "vitest";
import { events, noDedupe, one, type StoreFactory, T0, topic } from "./fixtures.js";

export function describeAppend(factory: StoreFactory): void {
  describe("append, read and dedupe", () => {
    it("append - offsets start at 0 and grow per partition; read returns events in offset order", async () => {
      const store = await factory.open();
      await store.createTopic(topic("t", 2));
      const results = await store.append(
        "t",
        [...events(2, { partition: 1 }), ...events(1, { partition: 0 }), ...events(1, { partition: 1 })],
        noDedupe,
      );
      expect(results.map((r) => [r.partition, r.offset, r.duplicate])).toEqual([
        [1, 0, false],
        [1, 1, false],
        [0, 0, false],
        [1, 2, false],
      ]);
      const read = await store.read("t", 1, 1, 10);
      expect(read.map((e) => e.offset)).toEqual([1, 2]);
      expect(read[0]?.publishTime).toBe(T0);
      expect(await store.read("t", 1, 0, 1)).toHaveLength(1);
      await store.close();
    });

    it("append - keeps data, key and publish time exactly", async () => {
      const store = await factory.open();
      await store.createTopic(topic("t"));
      const input = one({ key: "k1", size: 300 });
      await store.append("t", [input], { now: T0 + 5, dedupeSince: T0 + 6 });
      const [stored] = await store.read("t", 0, 0, 1);
      expect(stored?.key).toBe("k1");
      expect(stored?.publishTime).toBe(T0 + 5);
      expect(Buffer.from(stored?.data ?? []).equals(Buffer.from(input.data))).toBe(true);
      await store.close();
    });

    it("append - to a missing topic or partition fails and stores nothing", async () => {
      const store = await factory.open();
      await expect(store.append("missing", events(1), noDedupe)).rejects.toMatchObject({ code: "not_found" });
      await store.createTopic(topic("t", 1));
      await expect(
        store.append("t", [...events(1), ...events(1, { partition: 3 })], noDedupe),
      ).rejects.toThrow();
      expect(await store.read("t", 0, 0, 10)).toEqual([]);
      expect((await store.partitionStats("t"))[0]?.endOffset).toBe(0);
      await store.close();
    });

    it("dedupe - a repeated (source, id) within the window returns the original offset, also inside one batch", async () => {
      const store = await factory.open();
      await store.createTopic(topic("t"));
      const a = one();
      const window = { now: T0, dedupeSince: T0 - 60_000 };
      await store.append("t", [a], window);
      const results = await store.append("t", [...events(1), a, { ...a, source: "/other" }], {
        now: T0 + 10,
        dedupeSince: T0 - 60_000,
      });
      expect(results.map((r) => [r.offset, r.duplicate])).toEqual([
        [1, false],
        [0, true],
        [2, false],
      ]);
      const b = one();
      const inBatch = await store.append("t", [b, b], { now: T0 + 20, dedupeSince: T0 - 60_000 });
      expect(inBatch.map((r) => [r.offset, r.duplicate])).toEqual([
        [3, false],
        [3, true],
      ]);
      await store.close();
    });

    it("dedupe - an id seen before the window is stored again", async () => {
      const store = await factory.open();
      await store.createTopic(topic("t"));
      const a = one();
      await store.append("t", [a], { now: T0, dedupeSince: T0 - 1000 });
      const [again] = await store.append("t", [a], { now: T0 + 5000, dedupeSince: T0 + 4000 });
      expect(again).toEqual({ partition: 0, offset: 1, duplicate: false });
      await store.close();
    });

    it("stats - partitionStats counts events and bytes; offsetForTime finds the first event at or after a time", async () => {
      const store = await factory.open();
      await store.createTopic(topic("t", 2));
      await store.append("t", events(2, { size: 100 }), { now: T0, dedupeSince: T0 + 1 });
      await store.append("t", events(1, { size: 50 }), { now: T0 + 1000, dedupeSince: T0 + 1001 });
      expect(await store.partitionStats("t")).toEqual([
        { partition: 0, startOffset: 0, endOffset: 3, eventCount: 3, bytes: 250 },
        { partition: 1, startOffset: 0, endOffset: 0, eventCount: 0, bytes: 0 },
      ]);
      expect(await store.offsetForTime("t", 0, T0 + 500)).toBe(2);
      expect(await store.offsetForTime("t", 0, T0 - 1)).toBe(0);
      expect(await store.offsetForTime("t", 0, T0 + 5000)).toBe(3);
      await store.close();
    });
  });
}
