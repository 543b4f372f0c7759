import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { dirname } from "node:path";
import type { RunResult } from "./result.js";

export function machine(): { cpu: string; memory: string; node: string; os: string } {
  const cpu = cpus();
  return {
    cpu: `${cpu[0]?.model ?? "unknown"} x ${cpu.length}`,
    memory: `${Math.round(totalmem() / 2 ** 30)} GiB`,
    node: process.version,
    os: `${process.platform} ${process.arch}`,
  };
}

const cell = (v: number | undefined) => (v === undefined ? "" : v.toLocaleString("en-US"));

/** The results as a Markdown table, with Cebus/raw ratios where a baseline ran. */
export function markdown(results: RunResult[], meta: Record<string, string>): string {
  const lines = ["# Cebus benchmark", "", ...Object.entries(meta).map(([k, v]) => `- ${k}: ${v}`), ""];
  lines.push(
    "| scenario | system | events | events/s | vs raw | publish p50 / p99 ms | publish→deliver p50 / p99 / p99.9 ms | broker CPU % | broker peak RSS MB | notes |",
    "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
  );
  for (const r of results) {
    const raw = results.find((x) => x.scenario === r.scenario && x.system !== "cebus");
    const ratio =
      r.system === "cebus" && raw ? `${(r.eventsPerSecond / raw.eventsPerSecond).toFixed(2)}x` : "";
    const publish = r.publishP50Ms === undefined ? "" : `${r.publishP50Ms} / ${r.publishP99Ms}`;
    const e2e = r.p50Ms === undefined ? "" : `${r.p50Ms} / ${r.p99Ms} / ${r.p999Ms}`;
    const notes = Object.entries(r.notes ?? {})
      .map(([k, v]) => `${k} ${v}`)
      .join(", ");
    lines.push(
      `| ${r.scenario} | ${r.system} | ${cell(r.events)} | ${cell(r.eventsPerSecond)} | ${ratio} | ${publish} | ${e2e} | ${cell(r.brokerCpuPercent)} | ${cell(r.brokerPeakRssMb)} | ${notes} |`,
    );
  }
  lines.push(
    "",
    "Broker CPU is % of one core (100 = one core busy). Latencies are HDR histogram percentiles.",
    "",
  );
  return lines.join("\n");
}

export function writeResults(
  path: string,
  results: RunResult[],
  meta: Record<string, string>,
  md: string,
): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify({ meta, scenarios: results }, null, 2)}\n`);
  writeFileSync(path.replace(/\.json$/, ".md"), md);
}
