import { create } from "@bufbuild/protobuf";
import { CloudEventSchema } from "@cebus/proto";
import { describe, expect, it } from "vitest";
import { createPublishBatcher } from "./publish-batcher.js";

const event = (id: string, source = "/s") =>
  create(CloudEventSchema, {
    id,
    source,
    specVersion: "1.0",
    type: "t",
    data: { case: "textData", value: "x" },
  });

function recorder() {
  const batches: string[][] = [];
  let inFlight = 0;
  let peak = 0;
  const send = async (events: ReturnType<typeof event>[]) => {
    batches.push(events.map((e) => e.id));
    peak = Math.max(peak, ++inFlight);
    await new Promise((resolve) => setTimeout(resolve, 5));
    inFlight--;
    return events.map((_, i) => ({ partition: 0, offset: batches.length * 1000 + i, duplicate: false }));
  };
  return { batches, send, peak: () => peak };
}

describe("publish batching", () => {
  it("gathers publishes of one tick into one batch and gives each caller its own result", async () => {
    const r = recorder();
    const batcher = createPublishBatcher(r.send);
    const results = await Promise.all(["a", "b", "c"].map((id) => batcher.publish(event(id))));
    expect(r.batches).toEqual([["a", "b", "c"]]);
    expect(results.map((x) => x.offset)).toEqual([1000, 1001, 1002]);
  });

  it("sends a lone publish on the next turn of the event loop, with no linger timer by default", async () => {
    const r = recorder();
    const batcher = createPublishBatcher(r.send);
    const result = batcher.publish(event("alone"));
    await new Promise((resolve) => setImmediate(resolve));
    expect(r.batches).toEqual([["alone"]]);
    await result;
    const lingering = createPublishBatcher(r.send, { lingerMs: 20 });
    const later = lingering.publish(event("later"));
    await new Promise((resolve) => setImmediate(resolve));
    expect(r.batches).toEqual([["alone"]]);
    await later;
    expect(r.batches).toEqual([["alone"], ["later"]]);
  });

  it("splits at maxEvents and keeps at most maxInFlight batches outstanding", async () => {
    const r = recorder();
    const batcher = createPublishBatcher(r.send, { maxEvents: 10, maxInFlight: 2 });
    await Promise.all(Array.from({ length: 95 }, (_, n) => batcher.publish(event(`e${n}`))));
    expect(r.batches.map((b) => b.length)).toEqual([10, 10, 10, 10, 10, 10, 10, 10, 10, 5]);
    expect(r.batches.flat()).toEqual(Array.from({ length: 95 }, (_, n) => `e${n}`));
    expect(r.peak()).toBe(2);
  });

  it("fails a malformed event alone, before it can fail a batch", async () => {
    const r = recorder();
    const batcher = createPublishBatcher(r.send);
    const bad = batcher.publish(event("x", ""));
    const good = batcher.publish(event("y"));
    await expect(bad).rejects.toThrow("source is missing");
    await expect(good).resolves.toMatchObject({ offset: 1000 });
    expect(r.batches).toEqual([["y"]]);
  });

  it("fails every caller of a batch whose call fails", async () => {
    const batcher = createPublishBatcher(async () => {
      throw new Error("broker down");
    });
    const all = await Promise.allSettled([batcher.publish(event("a")), batcher.publish(event("b"))]);
    expect(all.map((x) => x.status)).toEqual(["rejected", "rejected"]);
  });
});
