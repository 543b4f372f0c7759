// The conformance matrix: which client runs against which backend with how many broker processes.
//   ciColumns   what `pnpm test` (and so CI) runs on every run: it fits CI's time budget on 2 cores
//   allColumns  every client on every backend, and the shared backends with two brokers for Node and Go:
//               `pnpm conformance:all` runs it and writes conformance/report.md
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";

const root = new URL("../..", import.meta.url).pathname;

export const clients = ["node", "browser", "go", "python"];
export const backends = ["sqlite", "redis", "postgres", "nats"];
/** The backends several broker processes can share (the embedded store is one process's file). */
export const sharedBackends = ["redis", "postgres", "nats"];

/** [client, backend, brokers] */
export const ciColumns = [
  ["node", "sqlite", 1],
  ["node", "redis", 1],
  ["node", "redis", 2], // two broker processes over one Redis, the clients of a case spread over both
  ["node", "postgres", 1],
  ["node", "postgres", 2],
  ["node", "nats", 1],
  ["node", "nats", 2],
  ["go", "sqlite", 1],
  ["go", "redis", 1],
  ["python", "sqlite", 1],
  ["python", "redis", 1],
  ["browser", "sqlite", 1],
];

export const allColumns = [
  ...clients.flatMap((client) => backends.map((backend) => [client, backend, 1])),
  ...["node", "go"].flatMap((client) => sharedBackends.map((backend) => [client, backend, 2])),
];

export const labelOf = ([client, backend, brokers]) =>
  `${brokers > 1 ? `${backend} x${brokers}` : backend}, ${client}`;

/**
 * Runs each column's conformance run into `results/conformance-<client>-<backend>-<brokers>`, then merges them into
 * one matrix at `reportDir`. Returns the passed and failed counts (each case one test; a column that crashed or
 * wrote nothing counts as one failure) and the column directories.
 */
export function runColumns(columns, results, reportDir) {
  let passed = 0;
  let failed = 0;
  const dirs = [];
  for (const [index, column] of columns.entries()) {
    const [client, backend, brokers] = column;
    const label = labelOf(column);
    process.stderr.write(`\n== conformance (${label}) [column ${index + 1} of ${columns.length}]\n`);
    const dir = join(results, `conformance-${client}-${backend}-${brokers}`);
    dirs.push(dir);
    const run = spawnSync(
      process.execPath,
      [
        join(root, "conformance/dist/src/cli.js"),
        ...["--backend", backend, "--brokers", String(brokers), "--client", client, "--report", dir],
      ],
      { cwd: root, stdio: "inherit" },
    );
    const counted = countsOf(dir, label, run.status);
    passed += counted.passed;
    failed += counted.failed;
  }
  spawnSync(
    process.execPath,
    [join(root, "conformance/dist/src/cli.js"), "--merge", dirs.join(","), "--report", reportDir],
    { cwd: root, stdio: "inherit" },
  );
  return { passed, failed, dirs };
}

function countsOf(dir, label, status) {
  try {
    const { summary } = JSON.parse(readFileSync(join(dir, "results.json"), "utf8"));
    const failed = summary.failed + summary.unexpectedPasses.length;
    if (status !== 0 && failed === 0) {
      console.error(`FAILED: the conformance runner (${label}) exited with ${status}`);
      return { passed: summary.passed - summary.unexpectedPasses.length, failed: 1 };
    }
    return { passed: summary.passed - summary.unexpectedPasses.length, failed };
  } catch (error) {
    console.error(`FAILED: the conformance runner (${label}) wrote no results (${error.message})`);
    return { passed: 0, failed: 1 };
  }
}
