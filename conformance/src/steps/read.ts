import { toCebusError } from "@cebus/client";
import type { StepOf } from "../case.js";
import type { CaseRun } from "../case-context.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * `read`: reads the topic (partition 0) without a subscription. Without `expectError`, once, and it must return
 * `expectCount` records when that is set; with it, polls every 200 ms until the broker refuses with that code
 * (retention is periodic), up to `timeoutMs` [90 s]. Every read is recorded.
 */
export async function readStep(run: CaseRun, r: StepOf<"read">): Promise<void> {
  const { history } = run;
  const deadline = performance.now() + (r.timeoutMs ?? 90_000);
  for (;;) {
    const at = history.now();
    try {
      const { records } = await run.raw().subscriber.readTopic({
        topic: run.topic,
        partition: 0,
        fromOffset: BigInt(r.from),
        limit: 1000,
      });
      history.add({ op: "read", at, from: r.from, ok: true, count: records.length });
      if (r.expectCount !== undefined && !r.expectError && records.length !== r.expectCount)
        throw new Error(
          `read from offset ${r.from} returned ${records.length} records, expected ${r.expectCount}`,
        );
      if (!r.expectError) return;
    } catch (error) {
      const e = toCebusError(error, run.env.target.url);
      history.add({ op: "read", at, from: r.from, ok: false, error: `${e.code}: ${e.message}`, count: 0 });
      if (r.expectError === e.code) return;
      if (!r.expectError) throw new Error(`read from ${r.from} failed: ${e.code}: ${e.message}`);
    }
    if (performance.now() > deadline)
      throw new Error(`read from offset ${r.from} never failed with ${r.expectError}`);
    await sleep(200);
  }
}
