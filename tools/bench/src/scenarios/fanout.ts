import { createClient } from "@cebus/client";
import { consumeAll, publishAll } from "../consume.js";
import { type BenchContext, payload } from "../context.js";
import { createLatency, createProgress, sampleProcess, sleep } from "../measure.js";
import { type RunResult, round } from "../result.js";

/** Scenario 3: one topic, 10 subscriptions each with its own consumer; every event reaches all ten. */
export async function fanout(ctx: BenchContext): Promise<RunResult> {
  const total = ctx.quick ? 5_000 : 50_000;
  const subscriptions = 10;
  const client = createClient({ url: ctx.broker.url });
  await client.admin.createTopic("bench-fanout", { partitions: 4 });
  const sent = new Float64Array(total);
  const e2e = createLatency();
  const progress = createProgress("fan-out");
  let acked = 0;
  const consumers = [];
  for (let i = 0; i < subscriptions; i++) {
    await client.admin.createSubscription(`bench-fanout-${i}`, {
      topic: "bench-fanout",
      startAt: "earliest",
    });
    const own = createClient({ url: ctx.broker.url }); // a connection per subscriber, as separate services would have
    consumers.push({
      own,
      c: consumeAll(
        own,
        `bench-fanout-${i}`,
        (m) => e2e.record(performance.now() - (sent[Number(m.id)] as number)),
        () => acked++,
      ),
    });
  }
  await sleep(200);
  const before = sampleProcess(ctx.broker.pid);
  const started = performance.now();
  const ticker = setInterval(
    () => progress.update(`${acked}/${total * subscriptions} deliveries acked`),
    250,
  );
  await publishAll(
    client,
    total,
    () => "bench-fanout",
    (n) => ({ id: String(n), type: "bench.event", source: "/bench", data: payload }),
    (from, to, at) => sent.fill(at, from, to),
  );
  const deadline = performance.now() + 120_000;
  while (acked < total * subscriptions && performance.now() < deadline) await sleep(5);
  const seconds = (performance.now() - started) / 1000;
  clearInterval(ticker);
  const after = sampleProcess(ctx.broker.pid);
  for (const { own, c } of consumers) {
    await c.close();
    await own.close();
  }
  await client.close();
  progress.done(
    `${Math.round(total / seconds)} events/s in, ${Math.round(acked / seconds)} deliveries/s out`,
  );
  return {
    scenario: "3 fan-out to 10 subscriptions",
    system: "cebus",
    events: total,
    seconds: round(seconds, 2) as number,
    eventsPerSecond: Math.round(total / seconds),
    p50Ms: round(e2e.percentile(50)),
    p99Ms: round(e2e.percentile(99)),
    p999Ms: round(e2e.percentile(99.9)),
    brokerCpuPercent: Math.round(((after.cpuMs - before.cpuMs) / (seconds * 1000)) * 100),
    brokerPeakRssMb: Math.round(after.peakRssMb),
    notes: { deliveriesPerSecond: Math.round(acked / seconds), lost: total * subscriptions - acked },
  };
}
