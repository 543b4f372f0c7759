import { spawn } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { CebusError } from "@cebus/core";
import { type BuildStep, buildSteps, runBuild } from "./build.js";
import { type Mutant, notApplicable } from "./catalogue.js";
import { type AppliedMutant, applyMutant, staleness } from "./patch.js";

/** BUILT: --build-only applied and built it, and ran no case. */
export type MutantStatus = "KILLED" | "SURVIVED" | "STALE" | "BUILD-ERROR" | "SKIPPED" | "ERROR" | "BUILT";

export interface MutantResult {
  id: string;
  guarantee: string;
  description: string;
  file: string;
  status: MutantStatus;
  /** KILLED: the failing case ids (or what ended the run). */
  caughtBy: string[];
  /** KILLED: the first anomaly of the first failing case; otherwise why (stale, build error, skipped). */
  detail: string;
  /** How many cases ran (passed or failed) against the mutant. */
  casesRun: number;
  seconds: number;
}

export interface RunOptions {
  /** The workspace copy the mutants are applied to. */
  root: string;
  backend: string;
  client: string;
  /** Where each mutant's conformance report and log go (<dir>/runs/<id>/). */
  reportDir: string;
  /** A conformance run that takes longer is stopped and counts as killed (timeout). */
  timeoutMs: number;
  /** Run these case globs instead of each mutant's own (a quick check of one mutant against one case). */
  cases?: string[];
  /** Apply, build and restore only: checks that the mutants compile, runs no case. */
  buildOnly?: boolean;
  /** Cases that fail on the unmutated tree (see runBaseline): their failures kill no mutant. */
  failingUnmutated?: Set<string>;
}

/** Applies one mutant, builds, runs its case groups, and puts the tree back (rebuilt) whatever happened. */
export async function runMutant(mutant: Mutant, options: RunOptions): Promise<MutantResult> {
  const started = performance.now();
  const result = (status: MutantStatus, detail: string, extra: Partial<MutantResult> = {}): MutantResult => ({
    id: mutant.id,
    guarantee: mutant.guarantee,
    description: mutant.description,
    file: mutant.file,
    status,
    caughtBy: [],
    detail,
    casesRun: 0,
    seconds: (performance.now() - started) / 1000,
    ...extra,
  });
  const skip = options.buildOnly ? undefined : notApplicable(mutant, options.backend, options.client);
  if (skip) return result("SKIPPED", skip);
  const stale = staleness(options.root, mutant);
  if (stale) return result("STALE", stale);
  const steps = buildSteps(options.root, mutant.file, options.client);
  const applied = applyMutant(options.root, mutant);
  let outcome: CasesOutcome;
  try {
    outcome = await buildAndRun(mutant, steps, options);
  } catch (error) {
    restoreAndRebuild(applied, mutant, steps, options);
    throw error;
  }
  restoreAndRebuild(applied, mutant, steps, options);
  return result(outcome.status, outcome.detail, { caughtBy: outcome.caughtBy, casesRun: outcome.casesRun });
}

async function buildAndRun(mutant: Mutant, steps: BuildStep[], options: RunOptions): Promise<CasesOutcome> {
  const build = runBuild(options.root, steps);
  if (!build.ok)
    return { status: "BUILD-ERROR", caughtBy: [], detail: firstLines(build.log, 6), casesRun: 0 };
  if (options.buildOnly)
    return { status: "BUILT", caughtBy: [], detail: `built in ${build.seconds.toFixed(1)} s`, casesRun: 0 };
  return runCases(mutant, options);
}

/** Puts the file back and rebuilds; a tree that no longer builds unmutated stops the whole run. */
function restoreAndRebuild(
  applied: AppliedMutant,
  mutant: Mutant,
  steps: BuildStep[],
  options: RunOptions,
): void {
  applied.restore();
  const rebuilt = runBuild(options.root, steps);
  if (!rebuilt.ok)
    throw new CebusError(
      "internal",
      `the unmutated tree does not build after restoring ${mutant.file}; the copy is broken, stopping:\n${firstLines(rebuilt.log, 10)}`,
    );
}

interface CasesOutcome {
  status: MutantStatus;
  caughtBy: string[];
  detail: string;
  casesRun: number;
}

/** Runs `node conformance/dist/src/cli.js` in the copy over the mutant's case groups and judges its report. */
async function runCases(mutant: Pick<Mutant, "id" | "cases">, options: RunOptions): Promise<CasesOutcome> {
  const dir = join(options.reportDir, "runs", mutant.id);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const logPath = join(dir, "run.log");
  const args = [
    join(options.root, "conformance/dist/src/cli.js"),
    ...["--backend", options.backend, "--client", options.client],
    ...["--cases", (options.cases ?? mutant.cases).join(","), "--report", dir],
  ];
  const { code, timedOut } = await runLogged(process.execPath, args, options, logPath);
  const log = existsSync(logPath) ? readFileSync(logPath, "utf8") : "";
  if (timedOut) {
    return {
      status: "KILLED",
      caughtBy: ["(timeout)"],
      detail: `the run took over ${options.timeoutMs / 1000} s`,
      casesRun: 0,
    };
  }
  if (!existsSync(join(dir, "results.json"))) {
    if (code === 2) return { status: "ERROR", caughtBy: [], detail: lastLines(log, 2), casesRun: 0 };
    return { status: "KILLED", caughtBy: ["(run failed)"], detail: lastLines(log, 2), casesRun: 0 };
  }
  return judgeResults(readFileSync(join(dir, "results.json"), "utf8"), options.failingUnmutated);
}

/**
 * Runs the given case globs once on the unmutated copy and returns the cases that fail there: a case that fails
 * without a mutant proves nothing about one (a flaky or broken case), so its failures kill no mutant.
 */
export async function runBaseline(
  globs: string[],
  options: RunOptions,
): Promise<{ failing: Set<string>; detail: string }> {
  const outcome = await runCases(
    { id: "_unmutated", cases: globs },
    { ...options, failingUnmutated: undefined },
  );
  if (outcome.status === "ERROR" || outcome.caughtBy.some((id) => id.startsWith("(")))
    throw new CebusError("failed_precondition", `the unmutated run failed to run: ${outcome.detail}`);
  return { failing: new Set(outcome.caughtBy), detail: outcome.detail };
}

interface ReportedResult {
  id: string;
  status: "passed" | "failed" | "skipped";
  reason?: string;
  anomalies: { kind: string; id?: string; detail: string }[];
}

/** KILLED when a case failed that is not a known failure of the column; SURVIVED when every case that ran passed. */
export function judgeResults(json: string, ignored: Set<string> = new Set()): CasesOutcome {
  const report = JSON.parse(json) as {
    columns: { results: ReportedResult[]; known: Record<string, string> }[];
  };
  const failed: ReportedResult[] = [];
  const excused: string[] = [];
  let casesRun = 0;
  for (const column of report.columns) {
    for (const r of column.results) {
      if (r.status !== "skipped") casesRun++;
      if (r.status !== "failed" || r.id in column.known) continue;
      if (ignored.has(r.id)) excused.push(r.id);
      else failed.push(r);
    }
  }
  const first = failed[0];
  if (!first) {
    const also = excused.length > 0 ? `; failed but fail unmutated too: ${excused.join(", ")}` : "";
    const detail =
      casesRun === 0 ? "no case ran (every selected case was skipped)" : `${casesRun} cases passed${also}`;
    return { status: "SURVIVED", caughtBy: [], detail, casesRun };
  }
  const anomaly = first.anomalies[0];
  const detail = anomaly
    ? `${first.id}: ${anomaly.kind}${anomaly.id ? ` ${anomaly.id}` : ""}: ${anomaly.detail}`
    : `${first.id}: ${(first.reason ?? "failed").split("\n")[0]}`;
  return { status: "KILLED", caughtBy: failed.map((r) => r.id), detail, casesRun };
}

/** Runs a command in its own process group with stdout and stderr to a file; kills the group after the timeout. */
function runLogged(
  command: string,
  args: string[],
  options: RunOptions,
  logPath: string,
): Promise<{ code: number | null; timedOut: boolean }> {
  const fd = openSync(logPath, "w");
  const child = spawn(command, args, {
    cwd: options.root,
    detached: true,
    stdio: ["ignore", fd, fd],
    // The Python adapter must import the copy's SDK, ahead of the editable install of the original tree.
    env: {
      ...process.env,
      PYTHONPATH: join(options.root, "sdks/python/src"),
      PYTHONDONTWRITEBYTECODE: "1",
    },
  });
  closeSync(fd);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    if (child.pid) process.kill(-child.pid, "SIGKILL");
  }, options.timeoutMs);
  return new Promise((resolve) => {
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, timedOut });
    });
  });
}

function firstLines(text: string, n: number): string {
  return text.split("\n").slice(0, n).join("\n");
}

function lastLines(text: string, n: number): string {
  return text.trim().split("\n").slice(-n).join(" / ");
}
