import pg from "pg";
import { type BenchContext, payload } from "../context.js";
import { createLatency, createProgress } from "../measure.js";
import { type RunResult, round } from "../result.js";

const BATCH = 500;

/**
 * Scenario 1 on PostgreSQL itself, the baseline for Cebus on PostgreSQL: batched multi-row INSERTs (unnest) by one
 * connection, and a reader that SELECTs the next rows by id and "acks" them by moving a cursor row, in one
 * transaction, on another connection. Same server, same run; no dedupe, no leases, no broker.
 */
export async function throughputRawPostgres(ctx: BenchContext, url: string): Promise<RunResult> {
  const total = ctx.quick ? 20_000 : 200_000;
  const producer = new pg.Client({ connectionString: url });
  const consumer = new pg.Client({ connectionString: url });
  await producer.connect();
  await consumer.connect();
  await producer.query("DROP TABLE IF EXISTS raw_bench; DROP TABLE IF EXISTS raw_bench_cursor");
  await producer.query(
    "CREATE TABLE raw_bench (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, n int NOT NULL, data text NOT NULL)",
  );
  await producer.query(
    "CREATE TABLE raw_bench_cursor (id int PRIMARY KEY, position bigint NOT NULL); INSERT INTO raw_bench_cursor VALUES (1, 0)",
  );
  const sent = new Float64Array(total);
  const e2e = createLatency();
  const publishLatency = createLatency();
  const progress = createProgress("throughput (raw pg INSERT/SELECT)");
  const started = performance.now();
  const producing = (async () => {
    for (let from = 0; from < total; from += BATCH) {
      const to = Math.min(total, from + BATCH);
      const ns = Array.from({ length: to - from }, (_, i) => from + i);
      const t0 = performance.now();
      sent.fill(t0, from, to);
      await producer.query("INSERT INTO raw_bench (n, data) SELECT n, $2 FROM unnest($1::int[]) AS t(n)", [
        ns,
        payload,
      ]);
      publishLatency.record(performance.now() - t0);
    }
  })();
  let acked = 0;
  let position = 0;
  while (acked < total) {
    await consumer.query("BEGIN");
    const { rows } = await consumer.query("SELECT id, n FROM raw_bench WHERE id > $1 ORDER BY id LIMIT $2", [
      position,
      BATCH,
    ]);
    if (rows.length === 0) {
      await consumer.query("COMMIT");
      await new Promise((resolve) => setTimeout(resolve, 1));
      continue;
    }
    const at = performance.now();
    for (const r of rows) e2e.record(at - (sent[r.n as number] as number));
    position = Number(rows[rows.length - 1].id);
    await consumer.query("UPDATE raw_bench_cursor SET position = $1 WHERE id = 1", [position]);
    await consumer.query("COMMIT");
    acked += rows.length;
    progress.update(`${acked}/${total} read and acked`);
  }
  await producing;
  const seconds = (performance.now() - started) / 1000;
  await producer.query("DROP TABLE raw_bench; DROP TABLE raw_bench_cursor");
  await producer.end();
  await consumer.end();
  progress.done(`${Math.round(total / seconds)} events/s end to end`);
  return {
    scenario: "1 throughput",
    system: "raw postgres (pg batched INSERT, SELECT + cursor UPDATE)",
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
