#!/usr/bin/env node
// `pnpm conformance:all`: the whole conformance matrix (every client on every backend, and the shared backends with
// two broker processes for Node and Go; see conformance-matrix.mjs), which CI runs only a fixed subset of. Writes
// each column under test-results/conformance-all/ and the merged, dated matrix to conformance/report.md. About
// 3 minutes per column on 2 cores; `--columns node:nats:2,go:postgres:1` runs only those.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { allColumns, labelOf, runColumns } from "./conformance-matrix.mjs";

const root = new URL("../..", import.meta.url).pathname;
const results = join(root, "test-results/conformance-all");
const at = process.argv.indexOf("--columns");
const columns =
  at === -1
    ? allColumns
    : process.argv[at + 1].split(",").map((c) => {
        const [client, backend, brokers = "1"] = c.split(":");
        return [client, backend, Number(brokers)];
      });
rmSync(results, { recursive: true, force: true });
mkdirSync(results, { recursive: true });
const merged = join(results, "merged");
const { passed, failed } = runColumns(columns, results, merged);
if (at === -1) {
  const day = new Date().toISOString().slice(0, 10);
  const body = readFileSync(join(merged, "report.md"), "utf8");
  const head = `<!-- Written by \`pnpm conformance:all\` on ${day} (${columns.length} columns: ${columns.map(labelOf).join("; ")}). -->\n\n`;
  writeFileSync(join(root, "conformance/report.md"), head + body);
  console.log(`conformance/report.md written (${day})`);
}
console.log(`\n${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
