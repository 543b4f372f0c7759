import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { CebusError } from "@cebus/core";
import { parse } from "yaml";

/** The backends and clients the conformance runner knows; a mutant may be limited to some of them. */
export const backendNames = ["sqlite", "redis", "postgres", "nats"] as const;
export const clientNames = ["node", "go", "python", "browser"] as const;

/**
 * One injected bug: a search/replace in one file of the repository (search/replace, not a line-numbered diff, so
 * it survives unrelated edits), the guarantee it breaks and the case groups that should catch it.
 */
export interface Mutant {
  id: string;
  guarantee: string;
  /** The realistic bug, in words. */
  description: string;
  /** A path from the repository root. */
  file: string;
  /** Exact text that must occur exactly once in `file`; a mutant whose find no longer matches is STALE. */
  find: string;
  replace: string;
  /** Globs of case ids (`at-least-once/*`), passed to the conformance runner's --cases. */
  cases: string[];
  /** Backends the mutant runs on (a store's mutant: its own backend only); default every backend. */
  backends: string[];
  /** Clients the mutant runs with (an SDK's mutant: its own client); default every client. */
  clients: string[];
  /** The catalogue file that defines it, for messages. */
  source: string;
}

/** Every `*.yaml` of the catalogue directory, in file order; ids must be unique. */
export function loadCatalogue(dir: string): Mutant[] {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith(".yaml"))
    .sort();
  const mutants = files.flatMap((f) => parseCatalogue(readFileSync(join(dir, f), "utf8"), f));
  const seen = new Set<string>();
  for (const m of mutants) {
    if (seen.has(m.id))
      throw new CebusError("invalid_argument", `mutant id '${m.id}' is used twice (${m.source}); rename one`);
    seen.add(m.id);
  }
  return mutants;
}

/** Parses one catalogue file: a YAML list of mutants. */
export function parseCatalogue(text: string, source: string): Mutant[] {
  const entries = parse(text) ?? [];
  if (!Array.isArray(entries))
    throw new CebusError("invalid_argument", `${source}: a catalogue file is a YAML list of mutants`);
  return entries.map((entry, i) => parseMutant(entry as Record<string, unknown>, `${source}[${i}]`));
}

function parseMutant(entry: Record<string, unknown>, where: string): Mutant {
  const text = (field: string): string => {
    const value = entry[field];
    if (typeof value !== "string" || value === "")
      throw new CebusError("invalid_argument", `${where}: '${field}' is missing; every mutant needs it`, {
        field,
      });
    return value;
  };
  const list = (field: string, allowed?: readonly string[]): string[] | undefined => {
    const value = entry[field];
    if (value === undefined) return undefined;
    const items = Array.isArray(value) ? value : [value];
    for (const item of items) {
      if (typeof item !== "string" || (allowed && !allowed.includes(item)))
        throw new CebusError(
          "invalid_argument",
          `${where}: '${field}' holds ${JSON.stringify(item)}; use ${allowed ? allowed.join(", ") : "strings"}`,
          { field },
        );
    }
    return items as string[];
  };
  const id = text("id");
  if (!/^[a-z0-9][a-z0-9-]*$/.test(id))
    throw new CebusError("invalid_argument", `${where}: id '${id}' must be lower-case words joined by -`);
  const cases = list("cases");
  if (!cases || cases.length === 0)
    throw new CebusError(
      "invalid_argument",
      `${where} (${id}): 'cases' is missing; name the case groups to run`,
    );
  return {
    id,
    guarantee: text("guarantee"),
    description: text("description"),
    file: text("file"),
    find: text("find"),
    replace: typeof entry.replace === "string" ? entry.replace : text("replace"),
    cases,
    backends: list("backends", backendNames) ?? [...backendNames],
    clients: list("clients", clientNames) ?? [...clientNames],
    source: where.replace(/\[\d+\]$/, ""),
  };
}

/** Why a mutant does not run on this backend and client, or undefined when it does. */
export function notApplicable(mutant: Mutant, backend: string, client: string): string | undefined {
  if (!mutant.backends.includes(backend)) return `runs on --backend ${mutant.backends.join("|")}`;
  if (!mutant.clients.includes(client)) return `runs with --client ${mutant.clients.join("|")}`;
  return undefined;
}
