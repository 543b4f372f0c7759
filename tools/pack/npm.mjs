// The npm tarballs of @cebus/client, @cebus/cli and @cebus/testing, installable with `npm i ./cebus-client-0.1.0.tgz`
// in any folder, with no registry holding a @cebus package. Each is packed from a staging dir: the package's own
// files, and under node_modules/ copies of the workspace packages it needs (their dist and a rewritten package.json),
// shipped inside the tarball as bundleDependencies. The third-party dependencies of those bundled packages become
// dependencies of the top-level package at the same pinned versions, so npm installs them from the registry.
import { execFileSync } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { basename, join } from "node:path";

const root = new URL("../..", import.meta.url).pathname;
/** Where the workspace packages live (pnpm-workspace.yaml lists these and tools that are never shipped). */
const workspaceDirs = ["packages", "sdks"];

/** The packages made into tarballs, each with the engines its code needs. */
export const npmPackages = [
  // Client-only code: no node:sqlite, so Node 20 works too.
  { name: "@cebus/client", dir: "sdks/client" },
  { name: "@cebus/cli", dir: "packages/cli" },
  { name: "@cebus/testing", dir: "packages/testing" },
];

/** Packs every package of npmPackages into outDir; returns `{ file, bytes }` per tarball written. */
export async function packNpm(outDir) {
  const workspace = readWorkspace();
  const stageRoot = join(outDir, ".npm-stage");
  rmSync(stageRoot, { recursive: true, force: true });
  mkdirSync(stageRoot, { recursive: true });
  return npmPackages.map(({ name }) => {
    const stageDir = stageNpmPackage(workspace, name, stageRoot);
    return packStaged(stageDir, outDir);
  });
}

/** The staging dir of a package under stageRoot (kept after packing, for `npm publish --dry-run`). */
export function stageDirOf(stageRoot, name) {
  return join(stageRoot, name.replace(/^@/, "").replace("/", "-"));
}

/** name -> { dir, manifest } of every workspace package under packages/ and sdks/. */
export function readWorkspace() {
  const workspace = new Map();
  for (const parent of workspaceDirs) {
    for (const entry of readdirSync(join(root, parent))) {
      const file = join(root, parent, entry, "package.json");
      if (!existsSync(file)) continue;
      const manifest = JSON.parse(readFileSync(file, "utf8"));
      workspace.set(manifest.name, { dir: join(root, parent, entry), manifest });
    }
  }
  return workspace;
}

/** The workspace packages `name` needs at run time (its dependencies, transitively), without itself, sorted. */
export function workspaceClosure(workspace, name) {
  const seen = new Set();
  const visit = (current) => {
    for (const dependency of Object.keys(workspace.get(current).manifest.dependencies ?? {})) {
      if (!workspace.has(dependency) || seen.has(dependency) || dependency === name) continue;
      seen.add(dependency);
      visit(dependency);
    }
  };
  visit(name);
  return [...seen].sort();
}

/**
 * The top-level package's dependencies: its own and its bundled packages' third-party ones (one pinned version
 * each, or an error naming both), and each bundled workspace package at its version.
 */
export function mergedDependencies(workspace, name, bundled) {
  const merged = {};
  const from = {};
  for (const owner of [name, ...bundled]) {
    for (const [dependency, spec] of Object.entries(workspace.get(owner).manifest.dependencies ?? {})) {
      if (workspace.has(dependency)) continue;
      if (merged[dependency] !== undefined && merged[dependency] !== spec) {
        throw new Error(
          `pack npm: ${dependency} is ${merged[dependency]} in ${from[dependency]} but ${spec} in ${owner}; pin one version in both package.json files`,
        );
      }
      merged[dependency] = spec;
      from[dependency] = owner;
    }
  }
  for (const dependency of bundled) merged[dependency] = workspace.get(dependency).manifest.version;
  return Object.fromEntries(Object.entries(merged).sort(([a], [b]) => a.localeCompare(b)));
}

/** A workspace manifest as shipped: `workspace:` ranges become versions; no scripts, devDependencies or private. */
export function shippedManifest(workspace, manifest, changes) {
  const { scripts, devDependencies, private: _private, ...kept } = manifest;
  const dependencies = Object.fromEntries(
    Object.entries(manifest.dependencies ?? {}).map(([dependency, spec]) => [
      dependency,
      spec.startsWith("workspace:") ? workspace.get(dependency).manifest.version : spec,
    ]),
  );
  return { ...kept, dependencies, ...changes };
}

/** Copies what a package ships (the entries of its `files`) into dir, leaving out tests and build state. */
function copyShippedFiles(source, dir, entries) {
  for (const entry of entries) {
    if (!existsSync(join(source, entry))) continue;
    cpSync(join(source, entry), join(dir, entry), {
      recursive: true,
      filter: (path) => !/\.test\.[cm]?[jt]s$|\.tsbuildinfo$/.test(path),
    });
  }
}

/** Writes the staging dir of `name`: its files, README, rewritten package.json and its bundled workspace packages. */
export function stageNpmPackage(workspace, name, stageRoot) {
  const { dir, manifest } = workspace.get(name);
  if (!existsSync(join(dir, "dist"))) {
    throw new Error(
      `pack npm: ${dir}/dist is missing; build first (./tools/run pack builds, or run pnpm build)`,
    );
  }
  const stageDir = stageDirOf(stageRoot, name);
  rmSync(stageDir, { recursive: true, force: true });
  const bundled = workspaceClosure(workspace, name);
  progress(`${name}: staging with ${bundled.length ? bundled.join(", ") : "nothing"} bundled`);
  const files = manifest.files ?? ["dist"];
  copyShippedFiles(dir, stageDir, [...files.filter((entry) => !entry.startsWith("!")), "README.md"]);
  // The license text the manifest's "license" names: the package's own, else the repository's.
  cpSync(
    existsSync(join(dir, "LICENSE")) ? join(dir, "LICENSE") : join(root, "LICENSE"),
    join(stageDir, "LICENSE"),
  );
  const top = shippedManifest(workspace, manifest, {
    files,
    dependencies: mergedDependencies(workspace, name, bundled),
    ...(bundled.length ? { bundleDependencies: bundled } : {}),
  });
  writeFileSync(join(stageDir, "package.json"), `${JSON.stringify(top, null, 2)}\n`);
  for (const dependency of bundled) {
    const bundledDir = join(stageDir, "node_modules", dependency);
    const source = workspace.get(dependency);
    copyShippedFiles(source.dir, bundledDir, ["dist"]);
    // The copy is part of this package: it runs where this package runs.
    const shipped = shippedManifest(workspace, source.manifest, {
      files: ["dist"],
      engines: manifest.engines,
    });
    writeFileSync(join(bundledDir, "package.json"), `${JSON.stringify(shipped, null, 2)}\n`);
  }
  return stageDir;
}

/** `npm pack` of a staging dir into outDir; checks that every bundled package went in; returns `{ file, bytes }`. */
export function packStaged(stageDir, outDir) {
  const manifest = JSON.parse(readFileSync(join(stageDir, "package.json"), "utf8"));
  const packed = npm(["pack", "--json", "--pack-destination", outDir], stageDir);
  const [result] = JSON.parse(packed);
  const missing = (manifest.bundleDependencies ?? []).filter((name) => !result.bundled.includes(name));
  if (missing.length > 0) {
    throw new Error(
      `pack npm: ${manifest.name}'s tarball lacks bundled ${missing.join(", ")} (see ${stageDir})`,
    );
  }
  const file = join(outDir, basename(result.filename));
  const bytes = statSync(file).size;
  progress(
    `${manifest.name}: ${basename(file)} (${result.entryCount} files, ${result.bundled.length} bundled)`,
  );
  return { file, bytes };
}

/** Runs npm in cwd and returns its stdout; a failure throws with npm's output. */
export function npm(args, cwd) {
  try {
    return execFileSync("npm", args, {
      cwd,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, npm_config_update_notifier: "false", npm_config_fund: "false" },
    });
  } catch (error) {
    const output = `${error.stdout ?? ""}${error.stderr ?? ""}`.trim().split("\n").slice(-30).join("\n");
    const reason = error.code === "ENOENT" ? "npm was not found on PATH" : `it exited with ${error.status}`;
    throw new Error(`pack npm: npm ${args.join(" ")} in ${cwd} failed: ${reason}\n${output}`);
  }
}

function progress(step) {
  console.log(`pack npm: ${step}`);
}
