import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, lstatSync, mkdtempSync, readdirSync, realpathSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { CebusError } from "@cebus/core";

/** Top-level entries not copied: history, results of earlier runs, caches. */
const skippedTop = new Set([".git", ".toolchain", ".turbo", "test-results", "dist-pack", "cebus-data"]);
/** Removed from the copy after copying (paths from the root). */
const removedPaths = ["conformance/results"];

/** A temporary copy of the repository that mutants are applied to; the working tree is never touched. */
export interface Workspace {
  root: string;
  remove(): void;
}

/**
 * Copies the repository at `root` with `cp -a` (node_modules included: pnpm links packages with relative symlinks,
 * which resolve inside the copy), without .git and run results, then builds the copy (`pnpm build`) so every dist
 * matches its sources. The toolchain (Node, pnpm, the Python SDK's virtualenv) is linked, not copied: it holds no
 * repository code. `head`: the copy holds the last commit's files instead of the working tree's (uncommitted edits
 * undone, untracked files removed), for a report that describes a commit.
 */
export function createWorkspace(root: string, options: { head?: boolean } = {}): Workspace {
  const copy = mkdtempSync(join(tmpdir(), "cebus-mutants-"));
  try {
    for (const entry of readdirSync(root)) {
      if (skippedTop.has(entry)) continue;
      execFileSync("cp", ["-a", join(root, entry), join(copy, entry)]);
    }
    for (const path of removedPaths) rmSync(join(copy, path), { recursive: true, force: true });
    if (options.head) checkOutHead(root, copy);
    if (existsSync(join(root, ".toolchain"))) symlinkSync(join(root, ".toolchain"), join(copy, ".toolchain"));
    checkLinks(copy);
    buildCopy(copy);
  } catch (error) {
    rmSync(copy, { recursive: true, force: true });
    throw error;
  }
  return { root: copy, remove: () => rmSync(copy, { recursive: true, force: true }) };
}

/**
 * Puts the last commit's files over the copy: tracked files from `git archive HEAD` (with the current time as their
 * mtime, so incremental builds see them as changed), and files git does not know about removed.
 */
function checkOutHead(root: string, copy: string): void {
  execFileSync("bash", ["-c", 'git -C "$1" archive HEAD | tar -x -m -C "$2"', "checkout", root, copy]);
  const untracked = execFileSync("git", ["-C", root, "ls-files", "-z", "--others", "--exclude-standard"], {
    encoding: "utf8",
  });
  for (const path of untracked.split("\0").filter(Boolean)) rmSync(join(copy, path), { force: true });
}

/** Builds every package of the copy, so no dist is older than its sources. */
function buildCopy(copy: string): void {
  const run = spawnSync("pnpm", ["build"], {
    cwd: copy,
    encoding: "utf8",
    env: { ...process.env, FORCE_COLOR: "0" },
  });
  if (run.status !== 0)
    throw new CebusError(
      "failed_precondition",
      `the copy of the repository does not build (pnpm build in ${copy}); fix the build first:\n${`${run.stdout}${run.stderr}`.trim().split("\n").slice(-15).join("\n")}`,
    );
}

/** The node_modules directories of the workspace: the root's and each package's. */
function nodeModulesDirs(copy: string): string[] {
  const dirs = [join(copy, "node_modules")];
  for (const group of ["packages", "sdks", "tools", "."]) {
    const base = join(copy, group);
    if (!existsSync(base)) continue;
    for (const entry of readdirSync(base)) {
      const dir = join(base, entry, "node_modules");
      if (entry !== "node_modules" && existsSync(dir)) dirs.push(dir);
    }
  }
  return dirs;
}

/**
 * Every symlink directly in a node_modules directory (and its @scopes) must resolve inside the copy: a link back
 * into the original tree would run the unmutated code and make every mutant survive.
 */
export function checkLinks(copy: string): void {
  const top = realpathSync(copy);
  for (const dir of nodeModulesDirs(copy)) {
    const entries = readdirSync(dir).flatMap((e) =>
      e.startsWith("@") ? readdirSync(join(dir, e)).map((s) => join(e, s)) : [e],
    );
    for (const entry of entries) {
      const path = join(dir, entry);
      if (!lstatSync(path).isSymbolicLink()) continue;
      if (!existsSync(path))
        throw new CebusError(
          "failed_precondition",
          `${relative(copy, path)} is a broken link in the copy; run pnpm install`,
        );
      const target = realpathSync(path);
      if (relative(top, target).startsWith(".."))
        throw new CebusError(
          "failed_precondition",
          `${relative(copy, path)} links outside the copy (${target}); the mutants would not be tested — reinstall with relative links (pnpm's default)`,
        );
    }
  }
}
