import { Redis } from "ioredis";
import { type BenchContext, payload } from "../context.js";
import { createLatency, createProgress } from "../measure.js";
import { type RunResult, round } from "../result.js";

const BATCH = 500;
const IN_FLIGHT = 8;
const READ_COUNT = 2000;

/**
 * Scenario 1 on Redis itself, the baseline for Cebus on Redis, written as a skilled ioredis user would: pipelines
 * of 500 XADD with 8 in flight (as many as the Cebus run has publish calls), one consumer group read with
 * XREADGROUP COUNT 2000, and each batch's XACK sent without waiting for it before the next read (the connection
 * keeps them in order), on the same redis-server in the same run. No dedupe, no leases, no broker: the ceiling of
 * what the Redis store can reach.
 */
export async function throughputRawRedis(ctx: BenchContext, redisUrl: string): Promise<RunResult> {
  const total = ctx.quick ? 20_000 : 200_000;
  const producer = new Redis(redisUrl);
  const consumer = new Redis(redisUrl);
  const stream = `raw-bench-${Date.now()}`;
  await producer.xgroup("CREATE", stream, "g", "0", "MKSTREAM");
  const sent = new Float64Array(total);
  const e2e = createLatency();
  const publishLatency = createLatency();
  const progress = createProgress("throughput (raw redis XADD/XREADGROUP/XACK)");
  const started = performance.now();
  let next = 0;
  const produce = async () => {
    while (next < total) {
      const from = next;
      next = Math.min(total, next + BATCH);
      const pipeline = producer.pipeline();
      for (let n = from; n < next; n++) pipeline.xadd(stream, "*", "id", String(n), "d", payload);
      const t0 = performance.now();
      sent.fill(t0, from, next);
      await pipeline.exec();
      publishLatency.record(performance.now() - t0);
    }
  };
  const producing = Promise.all(Array.from({ length: IN_FLIGHT }, produce));
  let read = 0;
  let acked = 0;
  const acks: Promise<unknown>[] = [];
  while (read < total) {
    const reply = (await consumer.xreadgroup(
      "GROUP",
      "g",
      "c",
      "COUNT",
      READ_COUNT,
      "BLOCK",
      1000,
      "STREAMS",
      stream,
      ">",
    )) as [string, [string, string[]][]][] | null;
    const entries = reply?.[0]?.[1] ?? [];
    if (entries.length === 0) continue;
    const at = performance.now();
    for (const [, fields] of entries) e2e.record(at - (sent[Number(fields[1])] as number));
    read += entries.length;
    acks.push(
      consumer.xack(stream, "g", ...entries.map(([id]) => id)).then(() => {
        acked += entries.length;
        progress.update(`${acked}/${total} acked`);
      }),
    );
  }
  await Promise.all(acks);
  await producing;
  const seconds = (performance.now() - started) / 1000;
  await producer.del(stream);
  producer.disconnect();
  consumer.disconnect();
  progress.done(`${Math.round(total / seconds)} events/s end to end`);
  return {
    scenario: "1 throughput",
    system: "raw redis (ioredis: 8 pipelines of 500 XADD in flight, XREADGROUP COUNT 2000, XACK pipelined)",
    events: total,
    seconds: round(seconds, 2) as number,
    eventsPerSecond: Math.round(total / seconds),
    publishP50Ms: round(publishLatency.percentile(50)),
    publishP99Ms: round(publishLatency.percentile(99)),
    p50Ms: round(e2e.percentile(50)),
    p99Ms: round(e2e.percentile(99)),
    p999Ms: round(e2e.percentile(99.9)),
  };
}
