import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CebusError } from "@cebus/core";
import type { Mutant } from "./catalogue.js";

/** How often `find` occurs in `text` (non-overlapping). */
export function occurrences(text: string, find: string): number {
  if (find === "") return 0;
  let count = 0;
  for (let at = text.indexOf(find); at !== -1; at = text.indexOf(find, at + find.length)) count++;
  return count;
}

/** Why a mutant cannot be applied to the tree at `root` (its file is missing, or find is not there exactly once). */
export function staleness(root: string, mutant: Mutant): string | undefined {
  let text: string;
  try {
    text = readFileSync(join(root, mutant.file), "utf8");
  } catch {
    return `${mutant.file} does not exist; point the mutant at the file that holds the code now`;
  }
  const count = occurrences(text, mutant.find);
  if (count === 1) return undefined;
  return count === 0
    ? `its find text no longer occurs in ${mutant.file}; update find (and replace) to the code as it is now`
    : `its find text occurs ${count} times in ${mutant.file}; make it longer so it names one place`;
}

/** An applied mutant: restore() puts the file back byte for byte. */
export interface AppliedMutant {
  path: string;
  restore(): void;
}

/** Applies a mutant to the tree at `root`; throws when it is stale. */
export function applyMutant(root: string, mutant: Mutant): AppliedMutant {
  const path = join(root, mutant.file);
  const original = readFileSync(path);
  const text = original.toString("utf8");
  const stale = staleness(root, mutant);
  if (stale) throw new CebusError("failed_precondition", `mutant ${mutant.id} is stale: ${stale}`);
  const at = text.indexOf(mutant.find);
  writeFileSync(path, text.slice(0, at) + mutant.replace + text.slice(at + mutant.find.length));
  return { path, restore: () => writeFileSync(path, original) };
}
