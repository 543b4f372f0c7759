import { CebusError, createClient } from "@cebus/client";
import { consumeAll } from "../consume.js";
import { type BenchContext, payload } from "../context.js";
import { createLatency, createProgress, sampleProcess, sleep } from "../measure.js";
import { type RunResult, round } from "../result.js";

/**
 * Scenario 6: a steady rate, then 10x that rate for a few seconds, then steady again. Publishes refused with
 * resource_exhausted are retried (counted); the result is how long the consumer lag takes to return to normal
 * after the burst, and that nothing is lost.
 */
export async function burst(ctx: BenchContext): Promise<RunResult> {
  const steady = ctx.quick ? 2_000 : 5_000;
  const phases = ctx.quick ? [1, 2, 2] : [3, 5, 10]; // seconds: steady, burst, steady
  const client = createClient({ url: ctx.broker.url });
  await client.admin.createTopic("bench-burst", { partitions: 4 });
  await client.admin.createSubscription("bench-burst-sub", { topic: "bench-burst", startAt: "earliest" });
  const progress = createProgress("burst");
  const e2e = createLatency();
  const due: number[] = [];
  let acked = 0;
  let retries = 0;
  let failures = 0;
  const consumer = consumeAll(
    client,
    "bench-burst-sub",
    (m) => e2e.record(performance.now() - (due[Number(m.id)] as number)),
    () => acked++,
    5000,
  );
  await sleep(200);
  const publishOne = async (n: number) => {
    for (let attempt = 0; ; attempt++) {
      try {
        await client.publish("bench-burst", {
          id: String(n),
          type: "bench.event",
          source: "/bench",
          data: payload,
        });
        return;
      } catch (error) {
        if (error instanceof CebusError && error.code === "resource_exhausted" && attempt < 50) {
          retries++;
          await sleep(error.retryAfterMs ?? 50);
        } else {
          failures++;
          return;
        }
      }
    }
  };
  const before = sampleProcess(ctx.broker.pid);
  const started = performance.now();
  const [s1 = 1, b = 1, s2 = 1] = phases;
  const rateAt = (t: number) => (t < s1 ? steady : t < s1 + b ? steady * 10 : steady);
  let offered = 0;
  let n = 0;
  let last = started;
  const burstEnd = started + (s1 + b) * 1000;
  let recoveredAt: number | undefined;
  const pending: Promise<void>[] = [];
  while (performance.now() - started < (s1 + b + s2) * 1000) {
    const now = performance.now();
    offered += (rateAt((now - started) / 1000) * (now - last)) / 1000;
    last = now;
    for (; n < Math.floor(offered); n++) {
      due[n] = now;
      pending.push(publishOne(n));
    }
    const lag = n - acked;
    if (now > burstEnd && recoveredAt === undefined && lag <= steady * 0.05) recoveredAt = now;
    progress.update(
      `${n} offered (${Math.round(rateAt((now - started) / 1000))}/s), lag ${lag}, ${retries} retries`,
    );
    await sleep(1);
  }
  await Promise.all(pending);
  const deadline = performance.now() + 60_000;
  while (acked < n - failures && performance.now() < deadline) await sleep(10);
  recoveredAt ??= performance.now();
  const seconds = (performance.now() - started) / 1000;
  const after = sampleProcess(ctx.broker.pid);
  await consumer.close();
  await client.close();
  const recoveryMs = Math.round(recoveredAt - burstEnd);
  progress.done(
    `recovered ${recoveryMs} ms after the burst; ${retries} resource_exhausted retries; ${n - failures - acked} lost`,
  );
  return {
    scenario: "6 10x burst",
    system: "cebus",
    events: n,
    seconds: round(seconds, 2) as number,
    eventsPerSecond: Math.round(acked / seconds),
    p50Ms: round(e2e.percentile(50)),
    p99Ms: round(e2e.percentile(99)),
    p999Ms: round(e2e.percentile(99.9)),
    brokerCpuPercent: Math.round(((after.cpuMs - before.cpuMs) / (seconds * 1000)) * 100),
    brokerPeakRssMb: Math.round(after.peakRssMb),
    notes: {
      steadyPerSecond: steady,
      burstPerSecond: steady * 10,
      burstSeconds: b,
      resourceExhaustedRetries: retries,
      recoveryMs,
      failed: failures,
      lost: n - failures - acked,
    },
  };
}
