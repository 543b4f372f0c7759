import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { CaseResult } from "./case-result.js";

export interface Column {
  client: string;
  backend: string;
  results: CaseResult[];
  /** caseId -> reason, for the known failures of this column. */
  known: Map<string, string>;
}

export interface RunSummary {
  passed: number;
  failed: number;
  skipped: number;
  knownFailures: number;
  /** Known failures that passed: they fail the run, so the list in git stays true. */
  unexpectedPasses: string[];
  mustFailures: string[];
}

export function summarize(columns: Column[]): RunSummary {
  const summary: RunSummary = {
    passed: 0,
    failed: 0,
    skipped: 0,
    knownFailures: 0,
    unexpectedPasses: [],
    mustFailures: [],
  };
  for (const column of columns) {
    for (const r of column.results) {
      const known = column.known.has(r.id);
      if (r.status === "skipped") summary.skipped++;
      else if (r.status === "passed") {
        summary.passed++;
        if (known) summary.unexpectedPasses.push(`${column.client}/${column.backend}/${r.id}`);
      } else if (known) summary.knownFailures++;
      else {
        summary.failed++;
        if (r.level === "must") summary.mustFailures.push(`${column.client}/${column.backend}/${r.id}`);
      }
    }
  }
  return summary;
}

function cell(r: CaseResult | undefined, known: string | undefined): string {
  if (!r) return "";
  if (r.status === "skipped") return "skip";
  if (r.status === "passed") return known ? "PASS (known failure!)" : "pass";
  const count = r.anomalies.length;
  const kinds = [...new Set(r.anomalies.map((a) => a.kind))].join(", ");
  return `${known ? "known " : ""}FAIL${count ? ` (${count} ${kinds})` : " (error)"}`;
}

/** Writes results.json (everything) and report.md (the cases x client-backend matrix). */
export function writeReport(dir: string, columns: Column[], meta: Record<string, string>): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, "results.json"),
    `${JSON.stringify({ meta, summary: summarize(columns), columns: columns.map((c) => ({ ...c, known: Object.fromEntries(c.known) })) }, null, 2)}\n`,
  );
  const ids = [...new Set(columns.flatMap((c) => c.results.map((r) => r.id)))];
  const header = ["case", "guarantee", "level", ...columns.map((c) => `${c.client} · ${c.backend}`)];
  const rows = ids.map((id) => {
    const any = columns.flatMap((c) => c.results).find((r) => r.id === id);
    return [
      id,
      any?.guarantee ?? "",
      any?.level ?? "",
      ...columns.map((c) =>
        cell(
          c.results.find((r) => r.id === id),
          c.known.get(id),
        ),
      ),
    ];
  });
  const s = summarize(columns);
  const lines = [
    "# Cebus conformance matrix",
    "",
    ...Object.entries(meta).map(([k, v]) => `- ${k}: ${v}`),
    `- result: ${s.passed} passed, ${s.failed} failed, ${s.skipped} skipped, ${s.knownFailures} known failures`,
    "",
    `| ${header.join(" | ")} |`,
    `| ${header.map(() => "---").join(" | ")} |`,
    ...rows.map((r) => `| ${r.join(" | ")} |`),
    "",
  ];
  const failures = columns.flatMap((c) =>
    c.results.filter((r) => r.status === "failed").map((r) => ({ c, r })),
  );
  if (failures.length > 0) {
    lines.push("## Failures", "");
    for (const { c, r } of failures) {
      lines.push(
        `### ${r.id} (${c.client} · ${c.backend})${c.known.has(r.id) ? ` — known: ${c.known.get(r.id)}` : ""}`,
        "",
      );
      if (r.reason) lines.push("```", r.reason.slice(0, 2000), "```", "");
      for (const a of r.anomalies)
        lines.push(
          `- ${a.kind}${a.subscription ? ` [${a.subscription}]` : ""}${a.id ? ` ${a.id}` : ""}: ${a.detail}`,
        );
      lines.push("");
    }
  }
  writeFileSync(join(dir, "report.md"), lines.join("\n"));
}

/** Combines the results.json of several runs (one column each) into one matrix in `out`. */
export function mergeReports(dirs: string[], out: string): RunSummary {
  const columns: Column[] = [];
  const meta: Record<string, string> = {};
  for (const dir of dirs) {
    const run = JSON.parse(readFileSync(join(dir, "results.json"), "utf8")) as {
      meta: Record<string, string>;
      columns: (Omit<Column, "known"> & { known: Record<string, string> })[];
    };
    for (const c of run.columns) {
      columns.push({ ...c, known: new Map(Object.entries(c.known)) });
      meta[`${c.client} · ${c.backend}`] =
        `${run.meta.broker}; ${run.meta.cases} cases in ${run.meta["run time"]}`;
    }
  }
  writeReport(out, columns, meta);
  return summarize(columns);
}
