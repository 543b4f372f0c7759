import { existsSync, readFileSync } from "node:fs";
import { CebusError } from "@cebus/core";
import { parse } from "yaml";
import type { MutantResult } from "./run-mutant.js";

/**
 * Mutants known to survive live in git (conformance/mutants/known-survivors.yaml), each with the reason the suite
 * misses it, like conformance/known-failures.yaml:
 *   - { id: nack-delay-ignored, reason: "..." }
 * (known-failures.ts is keyed by case, client and backend; a survivor is keyed by mutant id, optionally per
 * backend and client, so it has its own loader.) A listed mutant that is killed fails the run, so the list only
 * ever shrinks with the suite getting sharper, and it must be empty when issue 15 is closed.
 */
export function loadKnownSurvivors(path: string, backend: string, client: string): Map<string, string> {
  const known = new Map<string, string>();
  if (!existsSync(path)) return known;
  const entries = (parse(readFileSync(path, "utf8")) ?? []) as {
    id?: string;
    reason?: string;
    backend?: string;
    client?: string;
  }[];
  if (!Array.isArray(entries))
    throw new CebusError("invalid_argument", `${path}: a YAML list of { id, reason } entries is expected`);
  for (const entry of entries) {
    if (!entry.id || !entry.reason)
      throw new CebusError("invalid_argument", `${path}: every known survivor needs id and reason`);
    if ((entry.backend ?? backend) === backend && (entry.client ?? client) === client)
      known.set(entry.id, entry.reason);
  }
  return known;
}

/** What the run means for each result, with the known survivors. */
export interface Verdict {
  /** Failures of the run: each makes it exit 1. */
  problems: string[];
  /** Listed survivors that survived again. */
  expected: string[];
}

export function judgeRun(results: MutantResult[], known: Map<string, string>): Verdict {
  const problems: string[] = [];
  const expected: string[] = [];
  for (const r of results) {
    const listed = known.has(r.id);
    if (r.status === "STALE") problems.push(`${r.id}: STALE — ${r.detail}`);
    else if (r.status === "BUILD-ERROR")
      problems.push(`${r.id}: BUILD-ERROR (a catalogue bug) — ${r.detail}`);
    else if (r.status === "ERROR")
      problems.push(`${r.id}: the conformance run could not start — ${r.detail}`);
    else if (r.status === "SURVIVED" && !listed)
      problems.push(
        `${r.id}: SURVIVED and is not in known-survivors.yaml — sharpen the suite (or list it with a reason)`,
      );
    else if (r.status === "SURVIVED") expected.push(r.id);
    else if (r.status === "KILLED" && listed)
      problems.push(`${r.id}: now killed: remove it from known-survivors.yaml`);
  }
  return { problems, expected };
}
