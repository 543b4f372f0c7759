#!/usr/bin/env node
// `pnpm test`: every check and test suite of the repo, then one closing line "N passed, N failed".
// Checks (generated code fresh, buf lint, biome, test types) count as one test each; vitest reports its own counts.
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { ciColumns, runColumns } from "./conformance-matrix.mjs";

const root = new URL("../..", import.meta.url).pathname;
const bin = (name) => join(root, "node_modules/.bin", name);
const results = join(root, "test-results");
rmSync(results, { recursive: true, force: true });
mkdirSync(results, { recursive: true });
let passed = 0;
let failed = 0;

function check(name, command, args) {
  process.stderr.write(`\n== ${name}\n`);
  const run = spawnSync(command, args, { cwd: root, stdio: "inherit" });
  if (run.status === 0) passed++;
  else {
    failed++;
    console.error(`FAILED: ${name}`);
  }
}

check("generated code is fresh", process.execPath, [join(root, "tools/codegen/check-generated.mjs")]);
check("buf lint", bin("buf"), ["lint", "proto"]);
check("biome check", bin("biome"), ["check", "--diagnostic-level=error", "."]);
// The build compiles sources only; this type-checks the test files against the built packages.
check("test files type-check", bin("tsc"), ["-p", "tsconfig.tests.json"]);

process.stderr.write("\n== vitest\n");
const vitestJson = join(results, "vitest.json");
spawnSync(
  bin("vitest"),
  [
    "run",
    "--reporter=default",
    "--reporter=json",
    `--outputFile.json=${vitestJson}`,
    ...process.argv.slice(2),
  ],
  {
    cwd: root,
    stdio: "inherit",
  },
);
try {
  const report = JSON.parse(readFileSync(vitestJson, "utf8"));
  passed += report.numPassedTests;
  failed += report.numFailedTests;
  if (report.numTotalTests === 0 || (!report.success && report.numFailedTests === 0)) {
    failed++; // a suite that failed to load, or no tests at all, fails the run
    console.error("FAILED: vitest reported a failed suite or no tests");
  }
} catch (error) {
  failed++;
  console.error(`FAILED: vitest wrote no report (${error.message})`);
}

// The Go and Python SDKs: their own test runners against a real `cebus serve` (the build above); each test counts.
function counted(name, command, args, options, count) {
  process.stderr.write(`\n== ${name}\n`);
  const run = spawnSync(command, args, { cwd: root, encoding: "utf8", maxBuffer: 1 << 28, ...options });
  process.stderr.write(run.stdout ?? "");
  process.stderr.write(run.stderr ?? "");
  const { pass, fail } = run.error ? { pass: 0, fail: 0 } : count(run.stdout ?? "");
  passed += pass;
  failed += fail;
  if (run.status !== 0 && fail === 0) {
    failed++;
    console.error(`FAILED: ${name} exited with ${run.status ?? run.error?.message}`);
  }
}
const goTests = (out) => ({
  pass: (out.match(/^\s*--- PASS/gm) ?? []).length,
  fail: (out.match(/^\s*--- FAIL/gm) ?? []).length,
});
const goDirs = ["sdks/go", "conformance/adapters/go", "tools/bench/sdk-loops/go"];
for (const dir of goDirs) check(`go vet (${dir})`, "bash", ["-c", `cd ${dir} && go vet ./...`]);
counted(
  "go test (sdks/go)",
  "go",
  ["test", "-count=1", "-v", "./..."],
  { cwd: join(root, "sdks/go") },
  goTests,
);
const python = spawnSync("bash", [join(root, "tools/sdks/python-env.sh")], {
  cwd: root,
  encoding: "utf8",
  stdio: ["ignore", "pipe", "inherit"],
}).stdout.trim();
counted(
  "pytest (sdks/python)",
  python,
  ["-m", "pytest", "-q", "-p", "no:cacheprovider"],
  { cwd: join(root, "sdks/python") },
  (out) => ({
    pass: Number(/(\d+) passed/.exec(out)?.[1] ?? 0),
    fail: Number(/(\d+) failed/.exec(out)?.[1] ?? 0) + Number(/(\d+) errors?/.exec(out)?.[1] ?? 0),
  }),
);

// The conformance suite: CI's fixed subset of the matrix (tools/test/conformance-matrix.mjs; `pnpm conformance:all`
// runs every column); each case counts as one test. The columns are merged into one matrix
// (test-results/conformance/report.md).
const conformance = runColumns(ciColumns, results, join(results, "conformance"));
passed += conformance.passed;
failed += conformance.failed;

console.log(`\n${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
