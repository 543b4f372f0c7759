import { AckPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { type BenchContext, payload } from "../context.js";
import { createLatency, createProgress } from "../measure.js";
import { type RunResult, round } from "../result.js";

const BATCH = 500;

/**
 * Scenario 1 on JetStream itself, the baseline for Cebus on NATS: publishes kept in flight in batches of 500
 * (`noAsyncTraces`), one durable pull consumer with explicit acks, on the same nats-server in the same run. No
 * dedupe, no leases, no broker: the ceiling of what the NATS store can reach.
 */
export async function throughputRawNats(ctx: BenchContext, natsUrl: string): Promise<RunResult> {
  const total = ctx.quick ? 20_000 : 200_000;
  const url = new URL(natsUrl);
  const producer = await connect({ servers: `${url.hostname}:${url.port}`, noAsyncTraces: true });
  const consumerConnection = await connect({ servers: `${url.hostname}:${url.port}`, noAsyncTraces: true });
  const jsm = await jetstreamManager(producer);
  const stream = `RAW_BENCH_${Date.now()}`;
  await jsm.streams.add({ name: stream, subjects: [`${stream}.events`] });
  await jsm.consumers.add(stream, {
    durable_name: "g",
    ack_policy: AckPolicy.Explicit,
    max_ack_pending: 10_000,
  });
  const js = jetstream(producer);
  const sent = new Float64Array(total);
  const e2e = createLatency();
  const publishLatency = createLatency();
  const progress = createProgress("throughput (raw JetStream publish/consume/ack)");
  const started = performance.now();
  const producing = (async () => {
    for (let from = 0; from < total; from += BATCH) {
      const to = Math.min(total, from + BATCH);
      const t0 = performance.now();
      sent.fill(t0, from, to);
      const acks: Promise<unknown>[] = [];
      for (let n = from; n < to; n++) acks.push(js.publish(`${stream}.events`, payload));
      await Promise.all(acks);
      publishLatency.record(performance.now() - t0);
    }
  })();
  const consumer = await jetstream(consumerConnection).consumers.get(stream, "g");
  const messages = await consumer.consume({ max_messages: BATCH * 2 });
  let acked = 0;
  for await (const msg of messages) {
    e2e.record(performance.now() - (sent[msg.seq - 1] as number));
    msg.ack();
    acked++;
    if (acked % 1000 === 0) progress.update(`${acked}/${total} acked`);
    if (acked >= total) break;
  }
  await producing;
  await consumerConnection.flush();
  const seconds = (performance.now() - started) / 1000;
  await jsm.streams.delete(stream);
  await producer.close();
  await consumerConnection.close();
  progress.done(`${Math.round(total / seconds)} events/s end to end`);
  return {
    scenario: "1 throughput",
    system: "raw JetStream (publish in flight, pull consumer, explicit acks)",
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
