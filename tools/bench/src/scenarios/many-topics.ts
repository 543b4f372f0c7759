import { createClient } from "@cebus/client";
import { consumeAll, publishAll } from "../consume.js";
import { type BenchContext, payload } from "../context.js";
import { createLatency, createProgress, sampleProcess, sleep } from "../measure.js";
import { type RunResult, round } from "../result.js";

/**
 * Scenario 5: 1,000 topics with one subscription and one live consumer each. First the broker's CPU is sampled
 * while all of them are idle (it must stay near zero however many topics exist); then scenario 1's workload runs
 * on one of the topics while the other 999 stay idle, so its rate can be compared with scenario 1's.
 */
export async function manyTopics(ctx: BenchContext): Promise<RunResult> {
  const topics = ctx.quick ? 100 : 1000;
  const total = ctx.quick ? 20_000 : 200_000;
  const client = createClient({ url: ctx.broker.url });
  const progress = createProgress("many topics");
  const sent = new Float64Array(total);
  const e2e = createLatency();
  let acked = 0;
  const consumers = [];
  for (let t = 0; t < topics; t++) {
    await client.admin.createTopic(`bench-many-${t}`);
    await client.admin.createSubscription(`bench-many-${t}-sub`, {
      topic: `bench-many-${t}`,
      startAt: "earliest",
    });
    consumers.push(
      consumeAll(
        client,
        `bench-many-${t}-sub`,
        (m) => e2e.record(performance.now() - (sent[Number(m.id)] as number)),
        () => acked++,
        t === 0 ? 5000 : 100,
      ),
    );
    if (t % 50 === 0) progress.update(`${t}/${topics} topics with a consumer`);
  }
  const settleMs = ctx.quick ? 2000 : 10_000;
  const windowMs = ctx.quick ? 2000 : 5000;
  progress.update(
    `${topics} idle consumers; waiting ${settleMs / 1000} s, then sampling CPU for ${windowMs / 1000} s`,
  );
  await sleep(settleMs);
  const idleBefore = sampleProcess(ctx.broker.pid);
  await sleep(windowMs);
  const idleAfter = sampleProcess(ctx.broker.pid);
  const idleCpu = ((idleAfter.cpuMs - idleBefore.cpuMs) / windowMs) * 100;
  const before = sampleProcess(ctx.broker.pid);
  const started = performance.now();
  const ticker = setInterval(() => progress.update(`${acked}/${total} acked`), 250);
  await publishAll(
    client,
    total,
    () => "bench-many-0",
    (n) => ({ id: String(n), type: "bench.event", source: "/bench", data: payload }),
    (from, to, at) => sent.fill(at, from, to),
  );
  const deadline = performance.now() + 120_000;
  while (acked < total && performance.now() < deadline) await sleep(5);
  const seconds = (performance.now() - started) / 1000;
  clearInterval(ticker);
  const after = sampleProcess(ctx.broker.pid);
  for (const c of consumers) await c.close();
  await client.close();
  progress.done(
    `${Math.round(total / seconds)} events/s on 1 of ${topics} topics; idle broker CPU ${idleCpu.toFixed(1)}%`,
  );
  return {
    scenario: `5 as 1, beside ${topics - 1} idle topics`,
    system: "cebus",
    events: total,
    seconds: round(seconds, 2) as number,
    eventsPerSecond: Math.round(total / seconds),
    p50Ms: round(e2e.percentile(50)),
    p99Ms: round(e2e.percentile(99)),
    p999Ms: round(e2e.percentile(99.9)),
    brokerCpuPercent: Math.round(((after.cpuMs - before.cpuMs) / (seconds * 1000)) * 100),
    brokerPeakRssMb: Math.round(after.peakRssMb),
    notes: { topics, idleBrokerCpuPercent: round(idleCpu, 1) as number, lost: total - acked },
  };
}
