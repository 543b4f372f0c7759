import { createClient } from "@cebus/client";
import { type BenchContext, payload } from "../context.js";
import { createLatency, createProgress, sampleProcess } from "../measure.js";
import { type RunResult, round } from "../result.js";

const BATCH = 500;
const IN_FLIGHT = 8;

/** Scenario 1: N events of 256 B, batched publish, one subscription, every event acked; end to end. */
export async function throughput(ctx: BenchContext): Promise<RunResult> {
  const total = ctx.quick ? 20_000 : 200_000;
  const client = createClient({ url: ctx.broker.url });
  await client.admin.createTopic("bench-throughput", { partitions: 4 });
  await client.admin.createSubscription("bench-throughput-sub", {
    topic: "bench-throughput",
    startAt: "earliest",
  });
  const sent = new Float64Array(total);
  const e2e = createLatency();
  const publishLatency = createLatency();
  const progress = createProgress("throughput");
  let acked = 0;
  let finish: () => void = () => {};
  const allAcked = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const subscription = client.subscribe("bench-throughput-sub", { maxOutstanding: 5000 });
  const consuming = (async () => {
    for await (const message of subscription) {
      e2e.record(performance.now() - (sent[Number(message.id)] as number));
      void message.ack().then(() => {
        if (++acked === total) finish();
      });
    }
  })();
  const before = sampleProcess(ctx.broker.pid);
  const clientBefore = process.cpuUsage();
  const started = performance.now();
  const ticker = setInterval(() => {
    const s = (performance.now() - started) / 1000;
    progress.update(`${acked}/${total} acked, ${Math.round(acked / s)} events/s`);
  }, 250);
  let next = 0;
  const worker = async () => {
    while (next < total) {
      const from = next;
      next = Math.min(total, next + BATCH);
      const events = [];
      for (let n = from; n < next; n++)
        events.push({ id: String(n), type: "bench.event", source: "/bench", data: payload });
      const t0 = performance.now();
      sent.fill(t0, from, next);
      await client.publish("bench-throughput", events);
      publishLatency.record(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  await allAcked;
  const seconds = (performance.now() - started) / 1000;
  clearInterval(ticker);
  const after = sampleProcess(ctx.broker.pid);
  const clientCpu = process.cpuUsage(clientBefore);
  await subscription.close();
  await consuming;
  await client.close();
  progress.done(`${Math.round(total / seconds)} events/s end to end`);
  return {
    scenario: "1 throughput",
    system: "cebus",
    events: total,
    seconds: round(seconds, 2) as number,
    eventsPerSecond: Math.round(total / seconds),
    publishP50Ms: round(publishLatency.percentile(50)),
    publishP99Ms: round(publishLatency.percentile(99)),
    p50Ms: round(e2e.percentile(50)),
    p99Ms: round(e2e.percentile(99)),
    p999Ms: round(e2e.percentile(99.9)),
    brokerCpuPercent: Math.round(((after.cpuMs - before.cpuMs) / (seconds * 1000)) * 100),
    brokerPeakRssMb: Math.round(after.peakRssMb),
    notes: {
      batch: BATCH,
      publishCallsInFlight: IN_FLIGHT,
      partitions: 4,
      clientCpuPercent: Math.round(((clientCpu.user + clientCpu.system) / 1000 / (seconds * 1000)) * 100),
    },
  };
}
