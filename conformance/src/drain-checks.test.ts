import { describe, expect, it } from "vitest";
import { checkDrained } from "./drain-checks.js";

describe("drained", () => {
  it("drained - a subscription with nothing in flight and no backlog passes", () => {
    expect(checkDrained([{ subscription: "s", backlog: 0, inFlight: 0 }])).toEqual([]);
  });

  it("drained - backlog or in flight left after the case settled is an anomaly naming both", () => {
    const anomalies = checkDrained([
      { subscription: "a", backlog: 3, inFlight: 0 },
      { subscription: "b", backlog: 0, inFlight: 1 },
    ]);
    expect(anomalies.map((a) => [a.subscription, a.kind])).toEqual([
      ["a", "stats"],
      ["b", "stats"],
    ]);
    expect(anomalies[0]?.detail).toContain("backlog 3 and in flight 0");
  });
});
