import { describe, expect, it } from "vitest";
import { events, noDedupe, type StoreFactory, subscription, topic } from "./fixtures.js";

export function describeTopics(factory: StoreFactory): void {
  describe("topics and subscriptions", () => {
    it("topics - create, get, list and delete; creating a taken name returns false and changes nothing", async () => {
      const store = await factory.open();
      expect(await store.createTopic(topic("b", 2))).toBe(true);
      expect(await store.createTopic(topic("a"))).toBe(true);
      expect(await store.createTopic(topic("a", 5))).toBe(false);
      expect((await store.getTopic("a"))?.partitions).toBe(1);
      expect((await store.listTopics()).map((t) => t.name)).toEqual(["a", "b"]);
      expect(await store.deleteTopic("a")).toBe(true);
      expect(await store.deleteTopic("a")).toBe(false);
      expect(await store.getTopic("a")).toBeUndefined();
      await store.close();
    });

    it("topics - deleting a topic removes its events; a new topic of that name starts empty", async () => {
      const store = await factory.open();
      await store.createTopic(topic("t"));
      await store.append("t", events(3), noDedupe);
      await store.deleteTopic("t");
      await store.createTopic(topic("t"));
      expect(await store.read("t", 0, 0, 10)).toEqual([]);
      await store.close();
    });

    it("subscriptions - create, get, list by topic and delete", async () => {
      const store = await factory.open();
      await store.createTopic(topic("t1"));
      await store.createTopic(topic("t2"));
      expect(await store.createSubscription(subscription("s1", "t1"), [0])).toBe(true);
      expect(await store.createSubscription(subscription("s2", "t2"), [0])).toBe(true);
      expect(await store.createSubscription(subscription("s1", "t2"), [0])).toBe(false);
      expect((await store.getSubscription("s1"))?.topic).toBe("t1");
      expect((await store.listSubscriptions()).map((s) => s.name)).toEqual(["s1", "s2"]);
      expect((await store.listSubscriptions("t2")).map((s) => s.name)).toEqual(["s2"]);
      expect(await store.deleteSubscription("s1")).toBe(true);
      expect(await store.deleteSubscription("s1")).toBe(false);
      expect(await store.getSubscription("s1")).toBeUndefined();
      await store.close();
    });
  });
}
