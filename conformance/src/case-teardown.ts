import type { CaseRun } from "./case-context.js";

/**
 * Teardown, whatever happened: closes every client process (killed after 2 s), the proxy, and deletes the case's
 * topics. On a broker the runner does not control, a failed case leaves its topics there to be looked at.
 */
export async function teardownCase(run: CaseRun): Promise<void> {
  for (const client of run.clients.values()) await client.close(2000).catch(() => {});
  await run.proxy?.close();
  if (run.env.target.controllable || !run.failure) {
    const admin = run.admin();
    await admin.deleteTopic({ name: run.topic, force: true }).catch(() => {});
    await admin.deleteTopic({ name: run.deadLetterTopic, force: true }).catch(() => {});
  }
}
