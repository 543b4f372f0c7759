#!/usr/bin/env node
// cebus-conformance: runs the declarative cases of conformance/suites against a client under test and a broker,
// checks each recorded history, prints progress and "N passed, N failed", and writes results.json and report.md.
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { planCases, targetCapabilities } from "./capabilities.js";
import type { ConformanceCase } from "./case.js";
import { parseSuite } from "./case.js";
import { type CaseResult, skippedResult } from "./case-result.js";
import { resolveClient } from "./clients.js";
import { globToRegExp } from "./glob.js";
import { loadKnownFailures } from "./known-failures.js";
import { type Column, mergeReports, summarize, writeReport } from "./report.js";
import { runCase } from "./run-case.js";
import { type BrokerTarget, externalBroker, sharedBackends, startManagedBroker } from "./target.js";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const usage = `usage: cebus-conformance [--broker URL] [--client node|go|python|browser|"<command line>"] [--backend sqlite|memory|redis|postgres|nats]
                         [--brokers N] [--cases GLOB] [--repeat N] [--report DIR] [--list]
       cebus-conformance --merge DIR,DIR,... --report DIR   (one matrix from several runs)`;

const options = {
  broker: { type: "string" },
  client: { type: "string", default: "node" },
  backend: { type: "string", default: "sqlite" },
  brokers: { type: "string", default: "1" },
  cases: { type: "string", default: "**" },
  repeat: { type: "string", default: "1" },
  report: { type: "string", default: join(root, "conformance", "results") },
  list: { type: "boolean", default: false },
  merge: { type: "string" },
  help: { type: "boolean", default: false },
} as const;
// `pnpm conformance -- --broker URL` passes the `--` through
const argv = process.argv.slice(2).filter((arg, i) => !(i === 0 && arg === "--"));
let values: ReturnType<typeof parseArgs<{ args: string[]; options: typeof options }>>["values"];
try {
  ({ values } = parseArgs({ args: argv, options }));
} catch (error) {
  console.error(`${(error as Error).message}\n${usage}`);
  process.exit(2);
}
if (values.help) {
  console.log(usage);
  process.exit(0);
}
if (values.merge) {
  const s = mergeReports(values.merge.split(","), values.report);
  console.log(`matrix: ${join(values.report, "report.md")} (${s.passed} passed, ${s.failed} failed)`);
  process.exit(0);
}

const { name: clientName, command: client } = resolveClient(values.client, root);
const brokers = Number(values.brokers);
if (!Number.isInteger(brokers) || brokers < 1 || brokers > 8) {
  console.error(`--brokers ${values.brokers}: give a whole number from 1 to 8`);
  process.exit(2);
}
if (brokers > 1 && (values.broker || !sharedBackends.includes(values.backend))) {
  console.error(
    `--brokers ${brokers}: several broker processes need a shared backend the runner starts (${sharedBackends.join(", ")}); sqlite and memory belong to one process`,
  );
  process.exit(2);
}

// --repeat N runs each selected case N times in a row: the flake hunt for timing cases
const repeat = Number(values.repeat);
if (!Number.isInteger(repeat) || repeat < 1 || repeat > 1000) {
  console.error(`--repeat ${values.repeat}: give a whole number from 1 to 1000`);
  process.exit(2);
}

const suitesDir = join(root, "conformance", "suites");
const all: ConformanceCase[] = readdirSync(suitesDir)
  .filter((f) => f.endsWith(".yaml"))
  .sort()
  .flatMap((f) => parseSuite(readFileSync(join(suitesDir, f), "utf8"), f));
const seen = new Set<string>();
for (const c of all) {
  if (seen.has(c.id)) throw new Error(`case id ${c.id} is used twice`);
  seen.add(c.id);
}
const selector = globToRegExp(values.cases);
const cases = all.filter((c) => selector.test(c.id)).flatMap((c) => Array.from({ length: repeat }, () => c));
if (values.list) {
  for (const c of cases) console.log(`${c.id}  [${c.guarantee}, ${c.level}]  ${c.name}`);
  process.exit(0);
}
if (cases.length === 0) {
  console.error(`no case matches --cases ${values.cases}; see --list`);
  process.exit(2);
}

const backend = values.broker ? "external" : brokers > 1 ? `${values.backend} x${brokers}` : values.backend;
const target: BrokerTarget = values.broker
  ? externalBroker(values.broker)
  : await startManagedBroker(values.backend, brokers);
// the case library filtered for this column before anything runs: each case the target cannot run is skipped
const plan = planCases(cases, targetCapabilities(target, clientName));
const known = loadKnownFailures(join(root, "conformance", "known-failures.yaml"), clientName, backend);
const tty = process.stdout.isTTY;
const mark = (r: CaseResult) =>
  r.status === "passed"
    ? known.has(r.id)
      ? "!"
      : "✓"
    : r.status === "skipped"
      ? "-"
      : known.has(r.id)
        ? "k"
        : "✗";
console.log(`conformance: ${cases.length} cases, client ${clientName}, ${target.description}`);
rmSync(join(values.report, "histories"), { recursive: true, force: true });
const started = performance.now();
const results: CaseResult[] = [];
try {
  for (const [i, { c, skip }] of plan.entries()) {
    if (tty) process.stdout.write(`[${i + 1}/${cases.length}] ${c.id} ...`);
    const result = skip === undefined ? await runCase(c, { target, client }) : skippedResult(c, skip);
    results.push(result);
    const line = `[${i + 1}/${cases.length}] ${mark(result)} ${c.id} (${(result.durationMs / 1000).toFixed(1)} s)${result.status === "failed" ? `: ${result.anomalies.length} anomalies${result.reason ? `; ${result.reason.split("\n")[0]}` : ""}` : result.status === "skipped" ? `: ${result.reason}` : ""}`;
    console.log(tty ? `\r\x1b[K${line}` : line);
    if (result.history) {
      const file = join(values.report, "histories", `${c.id.replace(/\//g, "__")}.jsonl`);
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, `${result.history.map((e) => JSON.stringify(e)).join("\n")}\n`);
      result.history = undefined;
      console.log(`      history: ${file}`);
    }
    if (result.status === "failed" && !known.has(c.id)) {
      for (const a of result.anomalies.slice(0, 5))
        console.log(`      ${a.kind}${a.id ? ` ${a.id}` : ""}: ${a.detail}`);
    }
  }
} finally {
  await target.close();
}
const column: Column = { client: clientName, backend, results, known };
const seconds = ((performance.now() - started) / 1000).toFixed(1);
writeReport(values.report, [column], {
  client: clientName,
  backend,
  broker: target.description.replace(/ \(pid \d+\)/, ""),
  cases: String(cases.length),
  "run time": `${seconds} s on ${cpus().length} cores`,
});
const s = summarize([column]);
console.log(`\nreport: ${join(values.report, "report.md")}`);
if (s.unexpectedPasses.length)
  console.log(
    `known failures that now pass (remove them from known-failures.yaml): ${s.unexpectedPasses.join(", ")}`,
  );
console.log(`skipped: ${s.skipped}, known failures: ${s.knownFailures}, time: ${seconds} s`);
console.log(`${s.passed} passed, ${s.failed + s.unexpectedPasses.length} failed`);
process.exit(s.mustFailures.length > 0 || s.unexpectedPasses.length > 0 ? 1 : 0);
