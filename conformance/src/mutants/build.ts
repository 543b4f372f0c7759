import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";

/** One command of a build, run in a directory of the tree. */
export interface BuildStep {
  command: string;
  args: string[];
  /** From the root of the tree. */
  cwd: string;
}

/**
 * What must be rebuilt after a file of the tree changes: the pnpm package that owns it (its dist is what the broker
 * and the adapters load), plus the conformance package when the browser adapter bundles the changed SDK. Python and
 * Go need no build to run: the Python adapter imports sdks/python/src (PYTHONPATH points at the copy's) and the Go
 * adapter is compiled by `go build` when a conformance run starts; for them the step only checks that the mutated
 * file compiles, so a broken mutant is a BUILD-ERROR rather than a run that fails.
 */
export function buildSteps(root: string, file: string, client: string): BuildStep[] {
  if (file.endsWith(".go")) return [{ command: "go", args: ["build", "./..."], cwd: dirname(file) }];
  if (file.endsWith(".py")) {
    const check = "import ast, sys; ast.parse(open(sys.argv[1]).read(), sys.argv[1])";
    return [{ command: "python3", args: ["-c", check, file], cwd: "." }];
  }
  const owner = owningPackage(root, file);
  if (!owner) return [];
  const names = [owner];
  if (client === "browser" && owner === "@cebus/client") names.push("@cebus/conformance");
  return names.map((name) => ({ command: "pnpm", args: ["--filter", name, "build"], cwd: "." }));
}

/** The name of the nearest package.json above `file` (below the root), if any. */
export function owningPackage(root: string, file: string): string | undefined {
  for (let dir = dirname(file); dir !== "." && dir !== "/" && dir !== ""; dir = dirname(dir)) {
    const manifest = join(root, dir, "package.json");
    if (existsSync(manifest)) return (JSON.parse(readFileSync(manifest, "utf8")) as { name: string }).name;
  }
  return undefined;
}

export interface BuildOutcome {
  ok: boolean;
  /** The build's output when it failed (the compiler's errors). */
  log: string;
  seconds: number;
}

/** Runs the steps in order in the tree at `root`; stops at the first that fails. */
export function runBuild(root: string, steps: BuildStep[]): BuildOutcome {
  const started = performance.now();
  for (const step of steps) {
    const run = spawnSync(step.command, step.args, {
      cwd: join(root, step.cwd),
      encoding: "utf8",
      env: { ...process.env, FORCE_COLOR: "0", PYTHONDONTWRITEBYTECODE: "1" },
      timeout: 10 * 60_000,
    });
    if (run.status !== 0) {
      const log = `${run.stdout ?? ""}${run.stderr ?? ""}${run.error ? String(run.error) : ""}`;
      return { ok: false, log: log.trim(), seconds: (performance.now() - started) / 1000 };
    }
  }
  return { ok: true, log: "", seconds: (performance.now() - started) / 1000 };
}
