import { createClient } from "@cebus/client";
import { consumeAll } from "../consume.js";
import { type BenchContext, payload } from "../context.js";
import { createLatency, createProgress, sampleProcess, sleep } from "../measure.js";
import { type RunResult, round } from "../result.js";

/**
 * Scenario 2: open-loop offered load (events are due at fixed times whether or not earlier ones returned), plain
 * publish() calls batched by the client. Latency counts from the time an event was due, so a stall is not hidden
 * (no coordinated omission). The first second is a warm-up (JIT, the streams opening, the store's first pages):
 * its events are published, delivered and acked like the rest but left out of the percentiles.
 */
export async function latency(ctx: BenchContext): Promise<RunResult> {
  const rate = 10_000;
  const seconds = ctx.quick ? 3 : 10;
  const warmup = rate; // one second
  const total = rate * seconds + warmup;
  const client = createClient({ url: ctx.broker.url });
  await client.admin.createTopic("bench-latency", { partitions: 4 });
  await client.admin.createSubscription("bench-latency-sub", { topic: "bench-latency", startAt: "earliest" });
  const due = new Float64Array(total);
  const e2e = createLatency();
  const publishLatency = createLatency();
  const progress = createProgress("latency");
  let acked = 0;
  let errors = 0;
  const consumer = consumeAll(
    client,
    "bench-latency-sub",
    (m) => {
      const n = Number(m.id);
      if (n >= warmup) e2e.record(performance.now() - (due[n] as number));
    },
    () => acked++,
  );
  await sleep(200);
  const before = sampleProcess(ctx.broker.pid);
  const started = performance.now();
  let n = 0;
  while (n < total) {
    const elapsed = performance.now() - started;
    const target = Math.min(total, Math.floor((rate * elapsed) / 1000));
    for (; n < target; n++) {
      const at = started + (n * 1000) / rate;
      const counted = n >= warmup;
      due[n] = at;
      client
        .publish("bench-latency", { id: String(n), type: "bench.event", source: "/bench", data: payload })
        .then(
          () => (counted ? publishLatency.record(performance.now() - at) : undefined),
          () => errors++,
        );
    }
    progress.update(`${n}/${total} offered, ${acked} acked, p99 so far ${round(e2e.percentile(99))} ms`);
    await sleep(1);
  }
  const deadline = performance.now() + 30_000;
  while (acked < total - errors && performance.now() < deadline) await sleep(10);
  const wall = (performance.now() - started) / 1000;
  const after = sampleProcess(ctx.broker.pid);
  await consumer.close();
  await client.close();
  progress.done(
    `p50 ${round(e2e.percentile(50))} ms, p99 ${round(e2e.percentile(99))} ms at ${rate} events/s`,
  );
  return {
    scenario: "2 latency (10k/s open loop)",
    system: "cebus",
    events: total,
    seconds: round(wall, 2) as number,
    eventsPerSecond: Math.round(acked / wall),
    publishP50Ms: round(publishLatency.percentile(50)),
    publishP99Ms: round(publishLatency.percentile(99)),
    p50Ms: round(e2e.percentile(50)),
    p99Ms: round(e2e.percentile(99)),
    p999Ms: round(e2e.percentile(99.9)),
    brokerCpuPercent: Math.round(((after.cpuMs - before.cpuMs) / (wall * 1000)) * 100),
    brokerPeakRssMb: Math.round(after.peakRssMb),
    notes: { offeredPerSecond: rate, errors, lost: total - errors - acked },
  };
}
