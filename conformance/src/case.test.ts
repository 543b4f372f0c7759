import { describe, expect, it } from "vitest";
import { parseSuite } from "./case.js";

describe("suite files", () => {
  it("fill defaults and turn durations under *Ms keys (and wait.ms) into milliseconds", () => {
    const [c] = parseSuite(
      `- id: a/b
  name: n
  guarantee: at-least-once
  subscriptions: [{ name: main, ackDeadlineMs: 2s }]
  steps:
    - wait: { ms: 1500ms }
    - fault: { broker: kill }
`,
      "x.yaml",
    );
    expect(c?.subscriptions[0]?.ackDeadlineMs).toBe(2000);
    expect(c?.steps[0]).toEqual({ wait: { ms: 1500 } });
    expect(c).toMatchObject({
      level: "must",
      clients: ["c1"],
      needs: ["broker-control", "durable-store"],
      needsProxy: false,
      timeoutMs: 60_000,
    });
  });

  it("run a killAtPublishAck case through the proxy with control of the broker, and keep the sweep unless told", () => {
    const [killing, quiet] = parseSuite(
      `- id: a/kill
  name: n
  guarantee: at-least-once
  steps: [{ killAtPublishAck: { times: 10 } }]
- id: a/quiet
  name: n
  guarantee: exactly-once
  retentionSweep: false
  steps: [{ wait: { ms: 1 } }]
`,
      "x.yaml",
    );
    expect(killing).toMatchObject({
      needs: ["broker-control", "durable-store"],
      needsProxy: true,
      retentionSweep: true,
    });
    expect(quiet).toMatchObject({ needs: [], needsProxy: false, retentionSweep: false });
  });

  it("name the file and the case when a case is malformed", () => {
    expect(() =>
      parseSuite("- id: Bad Id\n  name: n\n  guarantee: g\n  steps: [{ wait: { ms: 1 } }]\n", "s.yaml"),
    ).toThrow("s.yaml case 1 (Bad Id): id is missing");
    expect(() => parseSuite("- id: ok\n  guarantee: g\n", "s.yaml")).toThrow(
      "s.yaml case 1 (ok): name is missing",
    );
    expect(() => parseSuite("id: x", "s.yaml")).toThrow("a suite is a YAML list of cases");
  });
});
