#!/usr/bin/env node
// Fails when the committed generated code (TypeScript, Go, Python) differs from what `pnpm generate` writes now.
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { parseScriptArgs } from "./args.mjs";
import { generate, targets } from "./generate.mjs";

parseScriptArgs(
  "usage: pnpm generate:check\n  fails when the committed generated code differs from what `pnpm generate` writes now",
);

const root = new URL("../..", import.meta.url).pathname;
const out = mkdtempSync(join(tmpdir(), "cebus-codegen-"));

function files(dir) {
  if (!statSync(dir, { throwIfNoEntry: false })) return [];
  return readdirSync(dir, { recursive: true })
    .map((f) => join(dir, String(f)))
    .filter((f) => statSync(f).isFile() && !f.includes("__pycache__"))
    .map((f) => relative(dir, f))
    .sort();
}

try {
  generate({ out });
  let count = 0;
  const stale = [];
  for (const { dir } of targets) {
    const fresh = join(out, dir);
    const committed = join(root, dir);
    const a = files(fresh);
    const b = files(committed);
    count += a.length;
    for (const f of new Set([...a, ...b])) {
      if (
        !a.includes(f) ||
        !b.includes(f) ||
        !readFileSync(join(fresh, f)).equals(readFileSync(join(committed, f)))
      )
        stale.push(join(dir, f));
    }
  }
  if (stale.length > 0) {
    console.error(
      `generated code is stale: ${stale.join(", ")}\nrun \`pnpm generate\` and commit the result`,
    );
    process.exit(1);
  }
  console.log(`generated code is fresh (${count} files: ${targets.map((t) => t.lang).join(", ")})`);
} finally {
  rmSync(out, { recursive: true, force: true });
}
