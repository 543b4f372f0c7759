import { create } from "@bufbuild/protobuf";
import { CebusError } from "@cebus/core";
import { TopicSchema } from "@cebus/proto";
import type { Store } from "@cebus/store";
import { createMemoryStore } from "@cebus/store/memory";
import { afterEach, describe, expect, it } from "vitest";
import { type Broker, createBroker } from "./broker.js";
import { event } from "./test-support.js";

let broker: Broker | undefined;
afterEach(async () => {
  await broker?.close();
  broker = undefined;
});

/** A real store whose appends wait until `open()`: the store falling behind, on demand. */
function slowStore(): { store: Store; open(): void } {
  const store = createMemoryStore();
  let open: () => void = () => {};
  const gate = new Promise<void>((resolve) => {
    open = resolve;
  });
  const append = store.append.bind(store);
  store.append = async (...args) => {
    await gate;
    return append(...args);
  };
  return { store, open };
}

const batch = (prefix: string, n: number) =>
  Array.from({ length: n }, (_, i) =>
    event(`${prefix}${i}`, { data: { case: "textData", value: "x".repeat(200) } }),
  );

describe("backpressure on publish", () => {
  it("refuses a batch past maxPendingPublishBytes with resource_exhausted and a retry hint, storing nothing of it", async () => {
    const slow = slowStore();
    broker = createBroker({
      store: slow.store,
      retentionIntervalMs: 0,
      limits: { maxPendingPublishBytes: 4000, pendingRetryAfterMs: 250 },
    });
    await broker.createTopic(create(TopicSchema, { name: "orders", partitions: 1 }));
    const first = broker.publish("orders", batch("a", 10)); // ~2.5 kB, waits for the store
    const refused = await broker.publish("orders", batch("b", 10)).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(CebusError);
    expect(refused).toMatchObject({ code: "resource_exhausted", retryAfterMs: 250 });
    expect((refused as CebusError).message).toContain("publish it again after 250 ms");
    slow.open();
    expect(await first).toHaveLength(10);
    const again = broker.publish("orders", batch("b", 10));
    expect((await again).map((r) => Number(r.offset))).toEqual(Array.from({ length: 10 }, (_, i) => 10 + i));
    expect((await broker.topicStats("orders")).eventCount).toBe(20n);
  });

  it("admits one batch larger than the limit when nothing else is waiting", async () => {
    broker = createBroker({
      store: createMemoryStore(),
      retentionIntervalMs: 0,
      limits: { maxPendingPublishBytes: 100 },
    });
    await broker.createTopic(create(TopicSchema, { name: "orders", partitions: 1 }));
    expect(await broker.publish("orders", batch("a", 10))).toHaveLength(10);
  });
});
