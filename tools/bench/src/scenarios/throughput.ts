import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create, toBinary } from "@bufbuild/protobuf";
import { createClient } from "@cebus/client";
import { CloudEventSchema, SubscriptionSchema, TopicSchema } from "@cebus/proto";
import type { LeaseRef } from "@cebus/store";
import { createSqliteStore } from "@cebus/store-sqlite";
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

/**
 * The same workload on the raw embedded store, in process: append batches, claim and ack, no network and no
 * broker. This is the ceiling Cebus on SQLite is compared with.
 */
export async function throughputRawSqlite(ctx: BenchContext): Promise<RunResult> {
  const total = ctx.quick ? 20_000 : 200_000;
  const dir = mkdtempSync(join(tmpdir(), "cebus-bench-raw-"));
  const store = createSqliteStore({ path: join(dir, "raw.db") });
  const progress = createProgress("throughput (raw sqlite store)");
  try {
    await store.createTopic(create(TopicSchema, { name: "raw", partitions: 4 }));
    await store.createSubscription(
      create(SubscriptionSchema, { name: "raw-sub", topic: "raw" }),
      [0, 0, 0, 0],
    );
    const sent = new Float64Array(total);
    const e2e = createLatency();
    const publishLatency = createLatency();
    const started = performance.now();
    let appended = 0;
    let acked = 0;
    const producer = (async () => {
      while (appended < total) {
        const from = appended;
        const to = Math.min(total, from + BATCH);
        const events = [];
        for (let n = from; n < to; n++) {
          const data = toBinary(
            CloudEventSchema,
            create(CloudEventSchema, {
              id: String(n),
              source: "/bench",
              specVersion: "1.0",
              type: "bench.event",
              data: { case: "textData", value: payload },
            }),
          );
          events.push({ partition: n % 4, source: "/bench", id: String(n), key: undefined, data });
        }
        const t0 = performance.now();
        sent.fill(t0, from, to);
        const now = Date.now();
        await store.append("raw", events, { now, dedupeSince: now - 120_000 });
        publishLatency.record(performance.now() - t0);
        appended = to;
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    let partition = 0;
    while (acked < total) {
      const now = Date.now();
      const leases = await store.claim({
        subscription: "raw-sub",
        topic: "raw",
        partition,
        consumer: "c",
        max: BATCH,
        maxBytes: 8 << 20,
        now,
        leaseMs: 30_000,
        token: "t",
        autoAck: false,
      });
      partition = (partition + 1) % 4;
      if (leases.length === 0) {
        await new Promise((resolve) => setImmediate(resolve));
        continue;
      }
      const at = performance.now();
      const refs: LeaseRef[] = [];
      for (const lease of leases) {
        e2e.record(at - (sent[lease.event.offset * 4 + lease.event.partition] as number));
        refs.push({ partition: lease.event.partition, offset: lease.event.offset, token: lease.token });
      }
      await store.settle({ subscription: "raw-sub", topic: "raw" }, { kind: "ack", leases: refs, now });
      acked += leases.length;
      progress.update(`${acked}/${total} acked`);
    }
    await producer;
    const seconds = (performance.now() - started) / 1000;
    progress.done(`${Math.round(total / seconds)} events/s end to end`);
    return {
      scenario: "1 throughput",
      system: "raw sqlite store (in process)",
      events: total,
      seconds: round(seconds, 2) as number,
      eventsPerSecond: Math.round(total / seconds),
      publishP50Ms: round(publishLatency.percentile(50)),
      publishP99Ms: round(publishLatency.percentile(99)),
      p50Ms: round(e2e.percentile(50)),
      p99Ms: round(e2e.percentile(99)),
      p999Ms: round(e2e.percentile(99.9)),
    };
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
