import { type CebusClient, CebusError, createClient } from "@cebus/client";
import { consumeAll } from "../consume.js";
import { type BenchContext, payload } from "../context.js";
import { createLatency, createProgress, sampleProcess, sleep } from "../measure.js";
import { type RunResult, round } from "../result.js";

/** The offered load: `steady` events per second for `s1` seconds, 10x that for `b`, then steady for `s2`. */
interface Plan {
  steady: number;
  s1: number;
  b: number;
  s2: number;
}

/** What the publishers and the consumer have counted so far. */
interface Counts {
  acked: number;
  /** Publishes refused with resource_exhausted and tried again. */
  retries: number;
  /** Publishes given up on. */
  failures: number;
}

/**
 * Scenario 6: a steady rate, then 10x that rate for a few seconds, then steady again. Publishes refused with
 * resource_exhausted are retried (counted); the result is how long the consumer lag takes to return to normal
 * after the burst, and that nothing is lost.
 */
export async function burst(ctx: BenchContext): Promise<RunResult> {
  const steady = ctx.quick ? 2_000 : 5_000;
  const phases = ctx.quick ? [1, 2, 2] : [3, 5, 10]; // seconds: steady, burst, steady
  const [s1 = 1, b = 1, s2 = 1] = phases;
  const plan: Plan = { steady, s1, b, s2 };
  const client = createClient({ url: ctx.broker.url });
  await client.admin.createTopic("bench-burst", { partitions: 4 });
  await client.admin.createSubscription("bench-burst-sub", { topic: "bench-burst", startAt: "earliest" });
  const progress = createProgress("burst");
  const e2e = createLatency();
  const due: number[] = [];
  const counts: Counts = { acked: 0, retries: 0, failures: 0 };
  const consumer = consumeAll(
    client,
    "bench-burst-sub",
    (m) => e2e.record(performance.now() - (due[Number(m.id)] as number)),
    () => counts.acked++,
    5000,
  );
  await sleep(200);
  const before = sampleProcess(ctx.broker.pid);
  const started = performance.now();
  const burstEnd = started + (s1 + b) * 1000;
  const offered = await offer(client, plan, started, due, counts, progress);
  const n = offered.n;
  const deadline = performance.now() + 60_000;
  while (counts.acked < n - counts.failures && performance.now() < deadline) await sleep(10);
  const recoveredAt = offered.recoveredAt ?? performance.now();
  const seconds = (performance.now() - started) / 1000;
  const after = sampleProcess(ctx.broker.pid);
  await consumer.close();
  await client.close();
  const recoveryMs = Math.round(recoveredAt - burstEnd);
  const { acked, retries, failures } = counts;
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

/** Events per second offered `t` seconds after the start. */
function rateAt(plan: Plan, t: number): number {
  return t < plan.s1 ? plan.steady : t < plan.s1 + plan.b ? plan.steady * 10 : plan.steady;
}

/**
 * Publishes at the plan's rate until its end and waits for every publish to return: `n` events offered, and
 * when the lag first fell back to 5% of a second of steady rate after the burst.
 */
async function offer(
  client: CebusClient,
  plan: Plan,
  started: number,
  due: number[],
  counts: Counts,
  progress: ReturnType<typeof createProgress>,
): Promise<{ n: number; recoveredAt: number | undefined }> {
  const burstEnd = started + (plan.s1 + plan.b) * 1000;
  let offered = 0;
  let n = 0;
  let last = started;
  let recoveredAt: number | undefined;
  const pending: Promise<void>[] = [];
  while (performance.now() - started < (plan.s1 + plan.b + plan.s2) * 1000) {
    const now = performance.now();
    offered += (rateAt(plan, (now - started) / 1000) * (now - last)) / 1000;
    last = now;
    for (; n < Math.floor(offered); n++) {
      due[n] = now;
      pending.push(publishOne(client, n, counts));
    }
    const lag = n - counts.acked;
    if (now > burstEnd && recoveredAt === undefined && lag <= plan.steady * 0.05) recoveredAt = now;
    progress.update(
      `${n} offered (${Math.round(rateAt(plan, (now - started) / 1000))}/s), lag ${lag}, ${counts.retries} retries`,
    );
    await sleep(1);
  }
  await Promise.all(pending);
  return { n, recoveredAt };
}

/** Publishes event `n`, retrying up to 50 times while the broker answers resource_exhausted. */
async function publishOne(client: CebusClient, n: number, counts: Counts): Promise<void> {
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
        counts.retries++;
        await sleep(error.retryAfterMs ?? 50);
      } else {
        counts.failures++;
        return;
      }
    }
  }
}
