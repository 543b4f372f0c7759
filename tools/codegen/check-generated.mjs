#!/usr/bin/env node
// Fails when the committed generated code differs from what `pnpm generate` would write now.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";

const root = new URL("../..", import.meta.url).pathname;
const generated = "packages/proto/src/gen";
const out = mkdtempSync(join(tmpdir(), "cebus-codegen-"));

function files(dir) {
  if (!statSync(dir, { throwIfNoEntry: false })) return [];
  return readdirSync(dir, { recursive: true })
    .map((f) => join(dir, String(f)))
    .filter((f) => statSync(f).isFile())
    .map((f) => relative(dir, f))
    .sort();
}

try {
  execFileSync(
    join(root, "node_modules/.bin/buf"),
    ["generate", "proto", "--template", "proto/buf.gen.yaml", "--output", out],
    {
      cwd: root,
      stdio: ["ignore", "inherit", "inherit"],
    },
  );
  const fresh = join(out, generated);
  const committed = join(root, generated);
  const a = files(fresh);
  const b = files(committed);
  const stale = [...new Set([...a, ...b])].filter(
    (f) =>
      !a.includes(f) ||
      !b.includes(f) ||
      !readFileSync(join(fresh, f)).equals(readFileSync(join(committed, f))),
  );
  if (stale.length > 0) {
    console.error(
      `generated code is stale: ${stale.join(", ")}\nrun \`pnpm generate\` and commit ${generated}`,
    );
    process.exit(1);
  }
  console.log(`generated code is fresh (${a.length} files)`);
} finally {
  rmSync(out, { recursive: true, force: true });
}
