import { execFileSync } from "node:child_process";
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
 * which resolve inside the copy), without .git and run results. The toolchain (Node, pnpm, the Python SDK's
 * virtualenv) is linked, not copied: it holds no repository code.
 */
export function createWorkspace(root: string): Workspace {
  const copy = mkdtempSync(join(tmpdir(), "cebus-mutants-"));
  try {
    for (const entry of readdirSync(root)) {
      if (skippedTop.has(entry)) continue;
      execFileSync("cp", ["-a", join(root, entry), join(copy, entry)]);
    }
    for (const path of removedPaths) rmSync(join(copy, path), { recursive: true, force: true });
    if (existsSync(join(root, ".toolchain"))) symlinkSync(join(root, ".toolchain"), join(copy, ".toolchain"));
    checkLinks(copy);
  } catch (error) {
    rmSync(copy, { recursive: true, force: true });
    throw error;
  }
  return { root: copy, remove: () => rmSync(copy, { recursive: true, force: true }) };
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
