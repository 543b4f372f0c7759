#!/usr/bin/env node
// `./tools/run pack`: the installable artefacts of Cebus in dist-pack/ at the repository root, for installing
// without a package registry: the npm tarballs of @cebus/client, @cebus/cli and @cebus/testing (npm.mjs), and,
// when their packers are present, the Python wheel and sdist (python.mjs) and the Go module (go.mjs).
// Usage: node tools/pack/pack.mjs [--out DIR]   (the packages must be built: ./tools/run builds them first)
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { packNpm } from "./npm.mjs";

const root = new URL("../..", import.meta.url).pathname;

/** The packers, each a module of tools/pack exporting a function (outDir) => [{ file, bytes }]. */
const packers = [
  { label: "npm", module: "./npm.mjs", run: packNpm },
  { label: "python", module: "./python.mjs", exportName: "packPython" },
  { label: "go", module: "./go.mjs", exportName: "packGo" },
];

/** The packer function of an optional module, or undefined (with a note) when the module is not there. */
async function loadPacker({ label, module, exportName }) {
  if (!existsSync(new URL(module, import.meta.url))) {
    console.log(`pack ${label}: skipped (tools/pack/${module.slice(2)} is not in this checkout)`);
    return undefined;
  }
  const loaded = await import(module);
  if (typeof loaded[exportName] !== "function") {
    throw new Error(`pack ${label}: tools/pack/${module.slice(2)} does not export ${exportName}(outDir)`);
  }
  return loaded[exportName];
}

/** Bytes of a file, or of everything under a directory. */
function sizeOf(path) {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.size;
  return readdirSync(path).reduce((total, entry) => total + sizeOf(join(path, entry)), 0);
}

/** Every artefact a packer reported, as `{ file, bytes }`, whatever of path strings or objects it returned. */
function normalize(reported) {
  return (Array.isArray(reported) ? reported : [])
    .map((entry) => (typeof entry === "string" ? { file: entry } : entry))
    .filter((entry) => entry && typeof entry.file === "string")
    .map(({ file, bytes }) => ({ file, bytes: bytes ?? sizeOf(file) }));
}

function formatBytes(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/** The closing table: one line per artefact, path relative to the repository root, and its size. */
function printTable(artefacts, outDir) {
  const shown = (file) => (file.startsWith(root) ? relative(root, file) : file);
  const rows = artefacts.map(({ label, file, bytes }) => [label, shown(file), formatBytes(bytes)]);
  const widths = [0, 1, 2].map((i) =>
    Math.max(...[["kind", "artefact", "size"], ...rows].map((row) => row[i].length)),
  );
  const line = (row) =>
    row.map((cell, i) => (i === 2 ? cell.padStart(widths[i]) : cell.padEnd(widths[i]))).join("  ");
  console.log(`\n${line(["kind", "artefact", "size"])}`);
  for (const row of rows) console.log(line(row));
  console.log(`${artefacts.length} artefacts in ${outDir}`);
}

/** Runs every packer present into outDir (emptied first) and returns what they wrote, `{ label, file, bytes }`. */
export async function packAll(outDir, only = packers.map((packer) => packer.label)) {
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  const artefacts = [];
  for (const packer of packers.filter(({ label }) => only.includes(label))) {
    const run = packer.run ?? (await loadPacker(packer));
    if (!run) continue;
    for (const artefact of normalize(await run(outDir))) artefacts.push({ label: packer.label, ...artefact });
  }
  return artefacts;
}

const usage = `usage: node tools/pack/pack.mjs [--out DIR] [--only npm,python,go]

Writes the installable artefacts (npm tarballs, and the Python and Go ones when their packers are present) into
DIR [dist-pack/ at the repository root], emptied first; --only packs the kinds named. The packages must be built:
./tools/run pack builds them.`;

async function main() {
  let values;
  try {
    ({ values } = parseArgs({
      options: { out: { type: "string" }, only: { type: "string" }, help: { type: "boolean", short: "h" } },
    }));
  } catch (error) {
    console.error(`error: ${error.message}\n${usage}`);
    process.exit(2);
  }
  if (values.help) {
    console.log(usage);
    return;
  }
  const only = values.only?.split(",").map((kind) => kind.trim());
  const unknown = only?.filter((kind) => !packers.some(({ label }) => label === kind)) ?? [];
  if (unknown.length > 0) {
    console.error(`error: --only ${values.only}: ${unknown.join(", ")} is not one of npm, python, go`);
    process.exit(2);
  }
  const outDir = resolve(values.out ?? join(root, "dist-pack"));
  printTable(await packAll(outDir, only), outDir);
}

if (fileURLToPath(import.meta.url) === resolve(process.argv[1] ?? "")) {
  main().catch((error) => {
    console.error(`error: ${error.message}`);
    process.exit(1);
  });
}
