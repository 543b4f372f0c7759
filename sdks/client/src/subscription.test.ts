import { describe, expect, it } from "vitest";
import { jittered, reconnectDelay } from "./subscription.js";

describe("reconnect backoff", () => {
  it("waits between half and all of the backoff (half jitter), so reconnecting clients spread out", () => {
    expect(jittered(1000, () => 0)).toBe(500);
    expect(jittered(1000, () => 1)).toBe(1000);
    const waits = Array.from({ length: 200 }, () => jittered(reconnectDelay.maxMs));
    expect(Math.min(...waits)).toBeGreaterThanOrEqual(reconnectDelay.maxMs / 2);
    expect(Math.max(...waits)).toBeLessThanOrEqual(reconnectDelay.maxMs);
    expect(new Set(waits).size).toBeGreaterThan(1);
  });
});
