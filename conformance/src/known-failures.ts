import { existsSync, readFileSync } from "node:fs";
import { parse } from "yaml";

/**
 * Known failures live in git (conformance/known-failures.yaml), each with a reason:
 *   - { client: node, backend: sqlite, case: ordering/broker-kill, reason: "..." }
 * A known failure that passes fails the run, so the list never hides a fixed (or a new) problem.
 */
export function loadKnownFailures(path: string, client: string, backend: string): Map<string, string> {
  const known = new Map<string, string>();
  if (!existsSync(path)) return known;
  const entries = (parse(readFileSync(path, "utf8")) ?? []) as {
    client?: string;
    backend?: string;
    case: string;
    reason: string;
  }[];
  for (const entry of entries) {
    if (!entry.case || !entry.reason) throw new Error(`${path}: every known failure needs case and reason`);
    if ((entry.client ?? client) === client && (entry.backend ?? backend) === backend)
      known.set(entry.case, entry.reason);
  }
  return known;
}
