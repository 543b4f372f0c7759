import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { MutantResult } from "./run-mutant.js";

export interface RunMeta {
  date: string;
  backend: string;
  client: string;
  /** Seconds the whole run took. */
  seconds: number;
  cores: number;
  /** What was copied: "last commit" (--head) or "working tree". */
  tree: string;
  /** Cases that failed on the unmutated copy (they kill no mutant). */
  failingUnmutated: string[];
}

/** A short count per status, e.g. "41 killed, 3 survived, 19 skipped". */
export function countLine(results: MutantResult[]): string {
  const counts = new Map<string, number>();
  for (const r of results) counts.set(r.status, (counts.get(r.status) ?? 0) + 1);
  return [...counts].map(([status, n]) => `${n} ${status.toLowerCase()}`).join(", ");
}

function caughtBy(r: MutantResult, known: Map<string, string>): string {
  if (r.status === "KILLED") {
    const more = r.caughtBy.length > 2 ? ` (+${r.caughtBy.length - 2})` : "";
    return `${r.caughtBy.slice(0, 2).join(", ")}${more}`;
  }
  if (r.status === "SURVIVED") return known.get(r.id) ? `known: ${known.get(r.id)}` : "NOT LISTED";
  return r.detail.split("\n")[0] ?? "";
}

/** The table printed at the end of a run: id, guarantee, result, caught by, seconds. */
export function formatTable(results: MutantResult[], known: Map<string, string>): string {
  const rows = results.map((r) => [r.id, r.guarantee, r.status, caughtBy(r, known), r.seconds.toFixed(0)]);
  const header = ["mutant", "guarantee", "result", "caught by", "s"];
  const widths = header.map((h, i) =>
    Math.max(h.length, ...rows.map((row) => Math.min(60, (row[i] ?? "").length))),
  );
  const line = (cells: string[]) =>
    cells.map((c, i) => (c.length > 60 ? `${c.slice(0, 57)}...` : c).padEnd(widths[i] ?? 0)).join("  ");
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

const cellText = (text: string) => text.replace(/\|/g, "\\|").replace(/\n/g, " ");

const reportTitle = "# Mutation runs";
const reportIntro =
  'Produced by `pnpm conformance:mutants --write-report` (see conformance/README.md, "Mutation run"): one section per backend and client, each replaced by its latest run.';

/** One run as a Markdown section: the meta, then one row per mutant with what caught it and its first anomaly. */
export function formatSection(results: MutantResult[], known: Map<string, string>, meta: RunMeta): string {
  const lines = [
    `## ${meta.backend} · ${meta.client}`,
    "",
    `- date: ${meta.date}`,
    `- backend: ${meta.backend}, client: ${meta.client}`,
    `- tree: ${meta.tree}; duration: ${(meta.seconds / 60).toFixed(1)} min on ${meta.cores} cores`,
    `- cases failing unmutated (they kill no mutant): ${meta.failingUnmutated.join(", ") || "none"}`,
    `- result: ${countLine(results)}`,
    "",
    "| mutant | guarantee | result | caught by | first anomaly / reason | s |",
    "| --- | --- | --- | --- | --- | --- |",
  ];
  for (const r of results) {
    const why =
      r.status === "SURVIVED" ? (known.get(r.id) ?? "not in known-survivors.yaml") : r.detail.split("\n")[0];
    const by = r.status === "KILLED" ? r.caughtBy.join(", ") : "";
    lines.push(
      `| ${r.id} | ${r.guarantee} | ${r.status} | ${cellText(by)} | ${cellText(why ?? "").slice(0, 300)} | ${r.seconds.toFixed(0)} |`,
    );
  }
  return `${lines.join("\n")}\n`;
}

/** A report of one run (the report directory's mutants.md). */
export function formatMarkdown(results: MutantResult[], known: Map<string, string>, meta: RunMeta): string {
  return `${reportTitle}\n\n${reportIntro}\n\n${formatSection(results, known, meta)}`;
}

/**
 * The committed report (conformance/mutants/report.md) with this run's section put in: the section of the same
 * backend and client is replaced, the others are kept, sorted by title.
 */
export function mergeIntoReport(existing: string | undefined, section: string): string {
  const sections = new Map<string, string>();
  for (const part of (existing ?? "").split(/^(?=## )/m)) {
    if (part.startsWith("## ")) sections.set(part.split("\n")[0] as string, `${part.trimEnd()}\n`);
  }
  sections.set(section.split("\n")[0] as string, section);
  const ordered = [...sections.keys()].sort().map((title) => sections.get(title));
  return `${reportTitle}\n\n${reportIntro}\n\n${ordered.join("\n")}`;
}

/** Writes <dir>/mutants.md and <dir>/mutants.json. */
export function writeRunReport(
  dir: string,
  results: MutantResult[],
  known: Map<string, string>,
  meta: RunMeta,
): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "mutants.md"), formatMarkdown(results, known, meta));
  writeFileSync(
    join(dir, "mutants.json"),
    `${JSON.stringify({ meta, knownSurvivors: Object.fromEntries(known), results }, null, 2)}\n`,
  );
}
