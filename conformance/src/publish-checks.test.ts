import { describe, expect, it } from "vitest";
import { parseSuite } from "./case.js";
import type { HistoryEntry } from "./history.js";
import { checkPublishes } from "./publish-checks.js";

type Publish = Extract<HistoryEntry, { op: "publish" }>;

function spreadCase(partitions: number) {
  const [c] = parseSuite(
    `- id: t
  name: t
  guarantee: g
  topic: { partitions: ${partitions} }
  steps: [{ wait: { ms: 1 } }]
  expect: { spreadOverPartitions: true }
`,
    "test.yaml",
  );
  if (!c) throw new Error("no case");
  return c;
}

const published = (partitions: number[], key?: string): Publish => ({
  op: "publish",
  at: 0,
  end: 1,
  client: "c1",
  ids: partitions.map((_, i) => `e${i}`),
  keys: partitions.map(() => key),
  ok: true,
  duplicate: partitions.map(() => false),
  offsets: partitions.map((_, i) => i),
  partitions,
});

describe("keyless events go round robin", () => {
  it("passes when keyless events reached every partition", () => {
    expect(checkPublishes(spreadCase(3), [published([0, 1, 2, 0])])).toEqual([]);
  });

  it("names the partitions keyless events never reached; keyed events do not count", () => {
    const found = checkPublishes(spreadCase(4), [published([0, 0, 1]), published([2, 3], "k")]);
    expect(found.map((a) => a.detail)).toEqual([
      "events without a partition key never landed on partition(s) 2, 3 of 4; keyless events go round robin",
    ]);
  });
});
