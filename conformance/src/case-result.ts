import type { Anomaly } from "./anomaly.js";
import type { ConformanceCase } from "./case.js";
import type { CaseRun } from "./case-context.js";
import type { History } from "./history.js";
import { ackedIds } from "./history-queries.js";

export interface CaseResult {
  id: string;
  name: string;
  guarantee: string;
  level: "must" | "should";
  status: "passed" | "failed" | "skipped";
  anomalies: Anomaly[];
  durationMs: number;
  /** Why it was skipped, or what broke (not an anomaly: e.g. a client that crashed). */
  reason?: string;
  counts: { published: number; delivered: number; acked: number };
  /** The recorded history, kept for failed cases so they can be diagnosed (written next to the report). */
  history?: History["entries"];
}

const identity = (c: ConformanceCase) => ({ id: c.id, name: c.name, guarantee: c.guarantee, level: c.level });

/** A case the target cannot run, with the reason (src/capabilities.ts). */
export function skippedResult(c: ConformanceCase, reason: string): CaseResult {
  return {
    ...identity(c),
    status: "skipped",
    anomalies: [],
    durationMs: 0,
    reason,
    counts: { published: 0, delivered: 0, acked: 0 },
  };
}

/**
 * The result of a case that ran: failed when something broke (with the end of each client's stderr) or the checks
 * found anomalies, else passed. A failed case keeps its history.
 */
export function caseResult(run: CaseRun, anomalies: Anomaly[], started: number): CaseResult {
  const { history } = run;
  const counts = {
    published: run.published.size,
    delivered: history.entries.filter((e) => e.op === "deliver").length,
    acked: ackedIds(history.entries).size,
  };
  if (run.failure) {
    const logs = [...run.clients.values()]
      .map((cl) => cl.log().slice(-1500))
      .filter(Boolean)
      .join("\n");
    return {
      ...identity(run.c),
      status: "failed",
      anomalies,
      durationMs: performance.now() - started,
      reason: logs ? `${run.failure}\nclient stderr:\n${logs}` : run.failure,
      counts,
      history: history.entries,
    };
  }
  const passed = anomalies.length === 0;
  return {
    ...identity(run.c),
    status: passed ? "passed" : "failed",
    anomalies,
    durationMs: performance.now() - started,
    counts,
    history: passed ? undefined : history.entries,
  };
}
