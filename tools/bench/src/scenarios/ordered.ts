import { createClient } from "@cebus/client";
import { consumeAll, publishAll } from "../consume.js";
import { type BenchContext, payload } from "../context.js";
import { createLatency, createProgress, sampleProcess, sleep } from "../measure.js";
import { type RunResult, round } from "../result.js";

/** Scenario 4: an ordered subscription, 1,000 partition keys, 4 competing consumers; order is checked per key. */
export async function ordered(ctx: BenchContext): Promise<RunResult> {
  const total = ctx.quick ? 10_000 : 50_000;
  const keys = 1000;
  const client = createClient({ url: ctx.broker.url });
  await client.admin.createTopic("bench-ordered", { partitions: 4 });
  await client.admin.createSubscription("bench-ordered-sub", {
    topic: "bench-ordered",
    startAt: "earliest",
    ordered: true,
  });
  const sent = new Float64Array(total);
  const lastOfKey = new Int32Array(keys).fill(-1);
  const e2e = createLatency();
  const progress = createProgress("ordered");
  let acked = 0;
  let reordered = 0;
  const consumers = [];
  for (let i = 0; i < 4; i++) {
    const own = createClient({ url: ctx.broker.url });
    const c = consumeAll(
      own,
      "bench-ordered-sub",
      (m) => {
        const n = Number(m.id);
        e2e.record(performance.now() - (sent[n] as number));
        const key = n % keys;
        if ((lastOfKey[key] as number) > n) reordered++;
        lastOfKey[key] = n;
      },
      () => acked++,
      500,
    );
    consumers.push({ own, c });
  }
  await sleep(200);
  const before = sampleProcess(ctx.broker.pid);
  const started = performance.now();
  const ticker = setInterval(() => progress.update(`${acked}/${total} acked`), 250);
  await publishAll(
    client,
    total,
    () => "bench-ordered",
    (n) => ({
      id: String(n),
      type: "bench.event",
      source: "/bench",
      data: payload,
      partitionkey: `k${n % keys}`,
    }),
    (from, to, at) => sent.fill(at, from, to),
    500,
    1,
  );
  const deadline = performance.now() + 120_000;
  while (acked < total && performance.now() < deadline) await sleep(5);
  const seconds = (performance.now() - started) / 1000;
  clearInterval(ticker);
  const after = sampleProcess(ctx.broker.pid);
  for (const { own, c } of consumers) {
    await c.close();
    await own.close();
  }
  await client.close();
  progress.done(`${Math.round(total / seconds)} events/s, ${reordered} out of order`);
  return {
    scenario: "4 ordered, 1,000 keys, 4 consumers",
    system: "cebus",
    events: total,
    seconds: round(seconds, 2) as number,
    eventsPerSecond: Math.round(total / seconds),
    p50Ms: round(e2e.percentile(50)),
    p99Ms: round(e2e.percentile(99)),
    p999Ms: round(e2e.percentile(99.9)),
    brokerCpuPercent: Math.round(((after.cpuMs - before.cpuMs) / (seconds * 1000)) * 100),
    brokerPeakRssMb: Math.round(after.peakRssMb),
    notes: { reordered, lost: total - acked },
  };
}
