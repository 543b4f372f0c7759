import { describe, expect, it } from "vitest";
import { planCases, skipReason, targetCapabilities } from "./capabilities.js";
import { parseSuite } from "./case.js";
import { externalBroker } from "./target.js";

const suite = parseSuite(
  `- id: plain
  name: n
  guarantee: at-least-once
  steps: [{ wait: { ms: 1 } }]
- id: paused
  name: n
  guarantee: at-least-once
  steps: [{ fault: { broker: pause, forMs: 10 } }]
- id: restarted
  name: n
  guarantee: at-least-once
  steps: [{ fault: { broker: restart } }]
- id: killed-at-ack
  name: n
  guarantee: at-least-once
  steps: [{ killAtPublishAck: { times: 1 } }]
- id: backend
  name: n
  guarantee: at-least-once
  steps: [{ fault: { backend: kill } }, { fault: { backend: restart } }]
- id: in-a-page
  name: n
  guarantee: at-least-once
  needs: [browser-client]
  steps: [{ wait: { ms: 1 } }]
`,
  "needs.yaml",
);
const server = { kill: async () => {}, restart: async () => {}, description: "redis-server" };
const columns = {
  sqlite: targetCapabilities({ controllable: true, durable: true }, "node"),
  memory: targetCapabilities({ controllable: true, durable: false }, "node"),
  redis: targetCapabilities({ controllable: true, durable: true, backendServer: server }, "go"),
  external: targetCapabilities(externalBroker("http://127.0.0.1:1"), "node"),
  browser: targetCapabilities({ controllable: true, durable: true }, "browser"),
};
const skipped = (column: keyof typeof columns) =>
  planCases(suite, columns[column]).flatMap(({ c, skip }) => (skip ? [`${c.id}: ${skip}`] : []));

describe("what a case needs", () => {
  it("comes from its steps: broker faults need control, restarts a durable store, backend faults the server", () => {
    expect(suite.map((c) => [c.id, c.needs])).toEqual([
      ["plain", []],
      ["paused", ["broker-control"]],
      ["restarted", ["broker-control", "durable-store"]],
      ["killed-at-ack", ["broker-control", "durable-store"]],
      ["backend", ["backend-server"]],
      ["in-a-page", ["browser-client"]],
    ]);
  });

  it("refuses a capability that does not exist, naming the file and case", () => {
    expect(() =>
      parseSuite(
        "- id: a\n  name: n\n  guarantee: g\n  needs: [gpu]\n  steps: [{ wait: { ms: 1 } }]\n",
        "s.yaml",
      ),
    ).toThrow(
      "s.yaml case 1 (a): needs names 'gpu'; use broker-control, backend-server, durable-store, browser-client",
    );
  });
});

describe("the case library filtered for a column", () => {
  it("keeps every case in order and gives each skip its reason", () => {
    const plan = planCases(suite, columns.sqlite);
    expect(plan.map(({ c }) => c.id)).toEqual(suite.map((c) => c.id));
    expect(skipped("sqlite")).toEqual([
      "backend: kills the backend server: only for backends the runner starts (redis, postgres, nats)",
      "in-a-page: needs a client under test that runs in a browser (--client browser)",
    ]);
    expect(skipped("redis")).toEqual([
      "in-a-page: needs a client under test that runs in a browser (--client browser)",
    ]);
    expect(skipped("browser")).toEqual([
      "backend: kills the backend server: only for backends the runner starts (redis, postgres, nats)",
    ]);
  });

  it("skips restarts on a store that loses its data, but runs a pause there", () => {
    expect(skipped("memory").filter((s) => s.includes("durable"))).toEqual([
      "restarted: restarts the broker: needs a durable store",
      "killed-at-ack: restarts the broker: needs a durable store",
    ]);
  });

  it("reports the first missing capability: a broker given by URL cannot be controlled, so that is the reason", () => {
    expect(skipped("external").slice(0, 3)).toEqual([
      "paused: needs to control the broker process (not possible with --broker URL)",
      "restarted: needs to control the broker process (not possible with --broker URL)",
      "killed-at-ack: needs to control the broker process (not possible with --broker URL)",
    ]);
    expect(skipReason(suite[0] as (typeof suite)[0], columns.external)).toBeUndefined();
  });
});
