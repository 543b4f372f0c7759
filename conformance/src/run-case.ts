import type { Anomaly } from "./anomaly.js";
import type { ConformanceCase } from "./case.js";
import { checkCase } from "./case-checks.js";
import type { CaseEnvironment, CaseRun } from "./case-context.js";
import { type CaseResult, caseResult } from "./case-result.js";
import { createCaseRun, setupCase } from "./case-setup.js";
import { teardownCase } from "./case-teardown.js";
import { settleDown } from "./settle-down.js";
import { runStep } from "./steps/run-step.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs one case against the target (which must have what the case needs: src/capabilities.ts filters the cases
 * first): setup, the steps, the settle-down, the checks, all within the case's timeout, then the teardown.
 */
export async function runCase(c: ConformanceCase, env: CaseEnvironment): Promise<CaseResult> {
  const started = performance.now();
  const run = createCaseRun(c, env);
  let anomalies: Anomaly[] = [];
  try {
    await Promise.race([
      (async () => {
        anomalies = await runPhases(run);
      })(),
      sleep(c.timeoutMs).then(() => {
        throw new Error(`case timed out after ${c.timeoutMs} ms`);
      }),
    ]);
  } catch (error) {
    run.failure = error instanceof Error ? error.message : String(error);
  } finally {
    await teardownCase(run);
  }
  return caseResult(run, anomalies, started);
}

/** Setup, each step in turn, the settle-down, then the checks' anomalies. */
async function runPhases(run: CaseRun): Promise<Anomaly[]> {
  await setupCase(run);
  for (const step of run.c.steps) await runStep(run, step);
  const settled = await settleDown(run);
  return checkCase(run, settled);
}
