#!/usr/bin/env node
// pnpm conformance:mutants: applies each mutant of conformance/mutants/catalogue/ to a temporary copy of the
// repository, builds, runs the mutant's case groups with one backend and client, and reports killed/survived.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { globToRegExp } from "../glob.js";
import { backendNames, clientNames, loadCatalogue, type Mutant, notApplicable } from "./catalogue.js";
import { judgeRun, loadKnownSurvivors } from "./known-survivors.js";
import {
  countLine,
  formatSection,
  formatTable,
  mergeIntoReport,
  type RunMeta,
  writeRunReport,
} from "./mutant-report.js";
import { staleness } from "./patch.js";
import { type MutantResult, type RunOptions, runBaseline, runMutant } from "./run-mutant.js";
import { createWorkspace, type Workspace } from "./workspace.js";

const root = fileURLToPath(new URL("../../../../", import.meta.url));
const usage = `usage: pnpm conformance:mutants [--backend sqlite|redis|postgres|nats] [--client node|go|python|browser]
                                [--only GLOB] [--cases GLOB] [--report DIR] [--write-report] [--timeout SECONDS]
                                [--head] [--skip-baseline] [--build-only] [--list] [--help]
  Applies each mutant of conformance/mutants/catalogue/*.yaml to a temporary copy of the repository, builds it, runs
  the mutant's case groups and prints which mutants the suite killed. Exit 1 when a mutant survives that is not in
  conformance/mutants/known-survivors.yaml, a listed one is killed, or a mutant is stale or does not build.
  --only selects mutants by id; --cases runs these cases instead of each mutant's own; --build-only applies, builds
  and restores each mutant without running cases (a quick check that the catalogue compiles); --head tests the last
  commit instead of the working tree (uncommitted edits are left out of the copy). The selected cases run once
  unmutated first: a case failing there kills no mutant (--skip-baseline leaves that run out).`;

const options = {
  backend: { type: "string", default: "sqlite" },
  client: { type: "string", default: "node" },
  only: { type: "string", default: "**" },
  cases: { type: "string" },
  "build-only": { type: "boolean", default: false },
  head: { type: "boolean", default: false },
  "skip-baseline": { type: "boolean", default: false },
  report: { type: "string", default: join(root, "conformance", "results", "mutants") },
  "write-report": { type: "boolean", default: false },
  timeout: { type: "string", default: "900" },
  list: { type: "boolean", default: false },
  help: { type: "boolean", default: false },
} as const;

type Values = ReturnType<typeof parseArgs<{ args: string[]; options: typeof options }>>["values"];

/** Parses the command line; a bad one is one line on stderr and exit 2. */
function readArguments(argv: string[]): Values {
  let values: Values;
  try {
    ({ values } = parseArgs({ args: argv.filter((arg, i) => !(i === 0 && arg === "--")), options }));
  } catch (error) {
    fail(`${(error as Error).message}; see --help`);
  }
  if (values.help) {
    console.log(usage);
    process.exit(0);
  }
  if (!(backendNames as readonly string[]).includes(values.backend))
    fail(`--backend ${values.backend}: use one of ${backendNames.join(", ")}`);
  if (!(clientNames as readonly string[]).includes(values.client))
    fail(`--client ${values.client}: use one of ${clientNames.join(", ")}`);
  if (!(Number(values.timeout) > 0)) fail(`--timeout ${values.timeout}: give a number of seconds above 0`);
  return values;
}

function fail(message: string): never {
  console.error(message);
  process.exit(2);
}

/** --list: every selected mutant, whether it runs on this backend and client, and whether it is stale. */
function listMutants(mutants: Mutant[], backend: string, client: string): void {
  for (const m of mutants) {
    const stale = staleness(root, m);
    const skip = notApplicable(m, backend, client);
    const note = stale ? `STALE: ${stale}` : skip ? `(${skip})` : m.cases.join(",");
    console.log(`${m.id}  [${m.guarantee}]  ${m.file}  ${note}`);
  }
}

/** The commit the tree is at (short hash), or "?" outside git. */
function headCommit(): string {
  try {
    return execFileSync("git", ["-C", root, "rev-parse", "--short", "HEAD"], { encoding: "utf8" }).trim();
  } catch {
    return "?";
  }
}

const clock = (seconds: number) =>
  `${Math.floor(seconds / 60)}:${String(Math.floor(seconds % 60)).padStart(2, "0")}`;

/** Runs the mutants one after another in the workspace, printing progress (n/N, elapsed, ETA). */
async function runAll(
  mutants: Mutant[],
  workspace: Workspace,
  values: Values,
  meta: RunMeta,
): Promise<MutantResult[]> {
  const results: MutantResult[] = [];
  const applies = (m: Mutant) => values["build-only"] || !notApplicable(m, values.backend, values.client);
  const runnable = mutants.filter(applies);
  const options: RunOptions = {
    root: workspace.root,
    backend: values.backend,
    client: values.client,
    reportDir: values.report,
    timeoutMs: Number(values.timeout) * 1000,
    cases: values.cases?.split(","),
    buildOnly: values["build-only"],
  };
  if (!values["build-only"] && !values["skip-baseline"] && runnable.length > 0) {
    const globs = options.cases ?? [...new Set(runnable.flatMap((m) => m.cases))];
    console.log(`unmutated: ${globs.join(",")} ...`);
    const baseline = await runBaseline(globs, options);
    options.failingUnmutated = baseline.failing;
    meta.failingUnmutated = [...baseline.failing];
    console.log(
      `unmutated: ${baseline.failing.size ? `FAILING ${[...baseline.failing].join(", ")} (they kill no mutant)` : baseline.detail}`,
    );
  }
  const started = performance.now();
  let ran = 0;
  for (const [i, mutant] of mutants.entries()) {
    const prefix = `[${i + 1}/${mutants.length}]`;
    if (applies(mutant)) console.log(`${prefix} ${mutant.id} ...`);
    const result = await runMutant(mutant, options);
    results.push(result);
    if (result.status === "SKIPPED") continue;
    ran++;
    const elapsed = (performance.now() - started) / 1000;
    const eta = (elapsed / ran) * Math.max(0, runnable.length - ran);
    const by = result.status === "KILLED" ? ` by ${result.caughtBy[0]}` : "";
    console.log(
      `${prefix} ${result.status} ${mutant.id}${by} (${result.seconds.toFixed(0)} s; elapsed ${clock(elapsed)}, ETA ${clock(eta)})`,
    );
  }
  return results;
}

/** Prints the table and the verdict, writes the reports, and exits 0 or 1. */
function finish(results: MutantResult[], known: Map<string, string>, meta: RunMeta, values: Values): never {
  console.log(`\n${formatTable(results, known)}\n`);
  writeRunReport(values.report, results, known, meta);
  console.log(`report: ${join(values.report, "mutants.md")}`);
  if (values["write-report"]) {
    const path = join(root, "conformance", "mutants", "report.md");
    const existing = existsSync(path) ? readFileSync(path, "utf8") : undefined;
    writeFileSync(path, mergeIntoReport(existing, formatSection(results, known, meta)));
    console.log(`report: ${path}`);
  }
  const verdict = judgeRun(results, known);
  for (const problem of verdict.problems) console.log(`✗ ${problem}`);
  console.log(`${countLine(results)} in ${clock(meta.seconds)} (${verdict.expected.length} known survivors)`);
  process.exit(verdict.problems.length > 0 ? 1 : 0);
}

async function main(): Promise<void> {
  const values = readArguments(process.argv.slice(2));
  const selector = globToRegExp(values.only);
  const mutants = loadCatalogue(join(root, "conformance", "mutants", "catalogue")).filter((m) =>
    selector.test(m.id),
  );
  if (mutants.length === 0) fail(`no mutant matches --only ${values.only}; see --list`);
  if (values.list) {
    listMutants(mutants, values.backend, values.client);
    return;
  }
  const known = loadKnownSurvivors(
    join(root, "conformance", "mutants", "known-survivors.yaml"),
    values.backend,
    values.client,
  );
  const started = performance.now();
  console.log(
    `mutants: ${mutants.length}, backend ${values.backend}, client ${values.client}; copying the ${values.head ? "last commit" : "working tree"} and building it`,
  );
  const workspace = createWorkspace(root, { head: values.head });
  const cleanUp = () => {
    workspace.remove();
    process.exit(130);
  };
  process.once("SIGINT", cleanUp);
  process.once("SIGTERM", cleanUp);
  console.log(`workspace: ${workspace.root}`);
  const meta: RunMeta = {
    date: new Date().toISOString(),
    backend: values.backend,
    client: values.client,
    seconds: 0,
    cores: cpus().length,
    tree: `${values.head ? "last commit" : "working tree"} (${headCommit()})`,
    failingUnmutated: [],
  };
  let results: MutantResult[];
  try {
    results = await runAll(mutants, workspace, values, meta);
  } finally {
    workspace.remove();
  }
  meta.seconds = (performance.now() - started) / 1000;
  finish(results, known, meta, values);
}

await main();
