import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create, toBinary } from "@bufbuild/protobuf";
import { CloudEventSchema, SubscriptionSchema, TopicSchema } from "@cebus/proto";
import type { AppendEvent, LeaseRef, Store } from "@cebus/store";
import { createSqliteStore } from "@cebus/store-sqlite";
import { type BenchContext, payload } from "../context.js";
import { createLatency, createProgress, type Latency } from "../measure.js";
import { type RunResult, round } from "../result.js";

const BATCH = 500;

/**
 * Scenario 1 on the raw embedded store, in process: append batches, claim and ack, no network and no broker. This
 * is the ceiling Cebus on SQLite is compared with.
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
    const producer = produce(store, total, sent, publishLatency);
    await claimAndAck(store, total, sent, e2e, progress);
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

/** Appends events 0 .. total-1 in batches, recording when each was sent and each append's latency. */
async function produce(
  store: Store,
  total: number,
  sent: Float64Array,
  publishLatency: Latency,
): Promise<void> {
  let appended = 0;
  while (appended < total) {
    const from = appended;
    const to = Math.min(total, from + BATCH);
    const events = encodeEvents(from, to);
    const t0 = performance.now();
    sent.fill(t0, from, to);
    const now = Date.now();
    await store.append("raw", events, { now, dedupeSince: now - 120_000 });
    publishLatency.record(performance.now() - t0);
    appended = to;
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** Events `from` .. `to`-1 as the store appends them: encoded CloudEvents spread over 4 partitions. */
function encodeEvents(from: number, to: number): AppendEvent[] {
  const events: AppendEvent[] = [];
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
  return events;
}

/** Claims the partitions in turn and acks every lease until `total` events are acked, recording end-to-end latency. */
async function claimAndAck(
  store: Store,
  total: number,
  sent: Float64Array,
  e2e: Latency,
  progress: ReturnType<typeof createProgress>,
): Promise<void> {
  let acked = 0;
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
}
