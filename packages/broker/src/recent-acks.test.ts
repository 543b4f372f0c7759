import { describe, expect, it } from "vitest";
import { createRecentAcks } from "./recent-acks.js";

describe("recent acks", () => {
  it("remembers an ack per subscription", () => {
    const acks = createRecentAcks(10);
    acks.add("s1", "0.1.1.a");
    expect(acks.has("s1", "0.1.1.a")).toBe(true);
    expect(acks.has("s2", "0.1.1.a")).toBe(false);
    expect(acks.has("s1", "0.2.1.a")).toBe(false);
  });

  it("always remembers the newest half of its capacity and never holds more than its capacity", () => {
    const acks = createRecentAcks(100);
    for (let n = 0; n < 1_000; n++) {
      acks.add("s", String(n));
      for (let back = 0; back < 50 && back <= n; back++) expect(acks.has("s", String(n - back))).toBe(true);
      let held = 0;
      for (let m = 0; m <= n; m++) if (acks.has("s", String(m))) held++;
      expect(held).toBeLessThanOrEqual(100);
    }
  });
});
