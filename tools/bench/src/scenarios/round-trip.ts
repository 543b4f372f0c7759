import { createClient } from "@cebus/client";
import { type BenchContext, payload } from "../context.js";
import { createLatency, createProgress, sampleProcess } from "../measure.js";
import { type RunResult, round } from "../result.js";

/**
 * Scenario 7: one publish at a time, each awaited before the next (a request handler publishing one event): the
 * round trip of a single unbatched publish, answered after its fsync. The first 200 warm the connection and the
 * JIT and are not counted.
 */
export async function roundTrip(ctx: BenchContext): Promise<RunResult> {
  const total = ctx.quick ? 1_000 : 5_000;
  const warmup = 200;
  const client = createClient({ url: ctx.broker.url });
  await client.admin.createTopic("bench-round-trip", { partitions: 1 });
  const latency = createLatency();
  const progress = createProgress("round trip");
  const event = (n: number) => ({ id: String(n), type: "bench.event", source: "/bench", data: payload });
  for (let n = 0; n < warmup; n++) await client.publish("bench-round-trip", event(-1 - n));
  const before = sampleProcess(ctx.broker.pid);
  const started = performance.now();
  for (let n = 0; n < total; n++) {
    const at = performance.now();
    await client.publish("bench-round-trip", event(n));
    latency.record(performance.now() - at);
    if (n % 500 === 0) progress.update(`${n}/${total}, p50 so far ${round(latency.percentile(50))} ms`);
  }
  const seconds = (performance.now() - started) / 1000;
  const after = sampleProcess(ctx.broker.pid);
  await client.close();
  progress.done(`p50 ${round(latency.percentile(50))} ms, p99 ${round(latency.percentile(99))} ms`);
  return {
    scenario: "7 single publish round trip",
    system: "cebus",
    events: total,
    seconds: round(seconds, 2) as number,
    eventsPerSecond: Math.round(total / seconds),
    publishP50Ms: round(latency.percentile(50)),
    publishP99Ms: round(latency.percentile(99)),
    brokerCpuPercent: Math.round(((after.cpuMs - before.cpuMs) / (seconds * 1000)) * 100),
    brokerPeakRssMb: Math.round(after.peakRssMb),
    notes: { inFlight: 1, eventsPerPublish: 1 },
  };
}
