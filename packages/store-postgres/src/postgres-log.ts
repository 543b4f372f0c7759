import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { CebusError } from "@cebus/core";
import { type Topic, TopicSchema } from "@cebus/proto";
import type { AppendEvent, AppendOptions, AppendResult, PartitionInfo, StoredEvent } from "@cebus/store";
import type { ClientBase } from "pg";
import { n, notify, type PgClient, type Row } from "./postgres-client.js";

/**
 * The log on PostgreSQL: topics, their partitions (next offset, counts, bytes), events and dedupe entries. Nothing
 * here knows about subscriptions; the delivery rules read the log through postgres-events.ts.
 *
 * Offsets are assigned under the partition row's lock (`appendIn`), so appends commit in offset order: a reader
 * never passes an offset that commits later.
 */

export function topicMissing(name: string): CebusError {
  return new CebusError("not_found", `topic '${name}' does not exist; create it first`, { field: "topic" });
}

export function createTopic(pg: PgClient, topic: Topic): Promise<boolean> {
  return pg.tx(async ({ client }) => {
    const inserted = await client.query(
      "INSERT INTO cebus_topics (name, config) VALUES ($1, $2) ON CONFLICT DO NOTHING",
      [topic.name, Buffer.from(toBinary(TopicSchema, topic))],
    );
    if (inserted.rowCount === 0) return false;
    await client.query(
      "INSERT INTO cebus_partitions (topic, partition) SELECT $1, generate_series(0, $2 - 1)",
      [topic.name, Math.max(1, topic.partitions)],
    );
    return true;
  });
}

export async function getTopic(pg: PgClient, name: string): Promise<Topic | undefined> {
  const [row] = await pg.query("SELECT config FROM cebus_topics WHERE name = $1", [name]);
  return row ? fromBinary(TopicSchema, row.config as Buffer) : undefined;
}

export async function listTopics(pg: PgClient): Promise<Topic[]> {
  const rows = await pg.query("SELECT config FROM cebus_topics ORDER BY name");
  return rows.map((r) => fromBinary(TopicSchema, r.config as Buffer));
}

export function deleteTopic(pg: PgClient, name: string): Promise<boolean> {
  return pg.tx(async ({ client }) => {
    const deleted = await client.query("DELETE FROM cebus_topics WHERE name = $1", [name]);
    if (deleted.rowCount === 0) return false;
    await client.query("DELETE FROM cebus_events WHERE topic = $1", [name]);
    await client.query("DELETE FROM cebus_dedupe WHERE topic = $1", [name]);
    return true;
  });
}

export async function partitionStats(pg: PgClient, topic: string): Promise<PartitionInfo[]> {
  const rows = await pg.query(
    "SELECT partition, start_offset, next_offset, event_count, bytes FROM cebus_partitions WHERE topic = $1 ORDER BY partition",
    [topic],
  );
  return rows.map(
    (r): PartitionInfo => ({
      partition: n(r.partition),
      startOffset: n(r.start_offset),
      endOffset: n(r.next_offset),
      eventCount: n(r.event_count),
      bytes: n(r.bytes),
    }),
  );
}

/** The first offset (in offset order) whose publish time is at or after `time`; publish times need not grow. */
export async function offsetForTime(pg: PgClient, topic: string, partition: number, time: number) {
  const [row] = await pg.query(
    `SELECT "offset" FROM cebus_events WHERE topic = $1 AND partition = $2 AND publish_time >= $3 ORDER BY "offset" LIMIT 1`,
    [topic, partition, time],
  );
  if (row) return n(row.offset);
  const [end] = await pg.query(
    "SELECT next_offset FROM cebus_partitions WHERE topic = $1 AND partition = $2",
    [topic, partition],
  );
  if (!end) throw topicMissing(topic);
  return n(end.next_offset);
}

export async function read(
  pg: PgClient,
  topic: string,
  partition: number,
  fromOffset: number,
  limit: number,
): Promise<StoredEvent[]> {
  const rows = await pg.query(
    `SELECT "offset", publish_time, key, data FROM cebus_events WHERE topic = $1 AND partition = $2 AND "offset" >= $3 ORDER BY "offset" LIMIT $4`,
    [topic, partition, fromOffset, limit],
  );
  return rows.map((r) => toEvent(partition, r));
}

export function toEvent(partition: number, r: Row): StoredEvent {
  return {
    partition,
    offset: n(r.offset),
    publishTime: n(r.publish_time),
    key: (r.key as string | null) ?? undefined,
    data: r.data ? new Uint8Array(r.data as Buffer) : new Uint8Array(0),
  };
}

/** The events of one append, sorted out: new rows to insert, dedupe entries to record, results in input order. */
interface AppendPlan {
  results: AppendResult[];
  rows: { partition: number[]; offset: number[]; key: (string | null)[]; data: Buffer[] };
  dedupe: { source: string[]; id: string[]; partition: number[]; offset: number[] };
  next: number[];
  added: { count: number; bytes: number }[];
}

/**
 * Store.append inside the caller's transaction (the outbox relay and a term's dead letters append in theirs). Locks
 * the topic's partition rows first, in partition order, so appenders never deadlock and offsets commit in order.
 */
export async function appendIn(
  client: ClientBase,
  topic: string,
  events: AppendEvent[],
  options: AppendOptions,
): Promise<AppendResult[]> {
  const next = await lockPartitions(client, topic);
  checkPartitions(topic, events, next.length);
  const dedupe = options.dedupeSince <= options.now;
  const seen = dedupe ? await recentlySeen(client, topic, events, options.dedupeSince) : new Map();
  const plan = planAppend(events, next, seen, dedupe);
  if (plan.rows.offset.length > 0) {
    await insertPlan(client, topic, plan, options.now);
    await notify(client, { topic });
  }
  return plan.results;
}

async function lockPartitions(client: ClientBase, topic: string): Promise<number[]> {
  const rows = (
    await client.query(
      "SELECT partition, next_offset FROM cebus_partitions WHERE topic = $1 ORDER BY partition FOR UPDATE",
      [topic],
    )
  ).rows as Row[];
  if (rows.length === 0) throw topicMissing(topic);
  return rows.map((p) => n(p.next_offset));
}

function checkPartitions(topic: string, events: AppendEvent[], partitions: number): void {
  events.forEach((e, i) => {
    if (e.partition >= partitions || e.partition < 0) {
      throw new CebusError(
        "invalid_argument",
        `events[${i}] targets partition ${e.partition} but topic '${topic}' has ${partitions}`,
      );
    }
  });
}

/** The earlier appends, inside the dedupe window, of the batch's (source, id)s. */
async function recentlySeen(
  client: ClientBase,
  topic: string,
  events: AppendEvent[],
  since: number,
): Promise<Map<string, AppendResult>> {
  const rows = (
    await client.query(
      `SELECT source, id, partition, "offset" FROM cebus_dedupe WHERE topic = $1 AND time >= $2
         AND (source, id) IN (SELECT * FROM unnest($3::text[], $4::text[]))`,
      [topic, since, events.map((e) => e.source), events.map((e) => e.id)],
    )
  ).rows as Row[];
  const seen = new Map<string, AppendResult>();
  for (const r of rows) {
    seen.set(`${r.source}\u0000${r.id}`, { partition: n(r.partition), offset: n(r.offset), duplicate: true });
  }
  return seen;
}

function planAppend(
  events: AppendEvent[],
  next: number[],
  seen: Map<string, AppendResult>,
  dedupe: boolean,
): AppendPlan {
  const plan: AppendPlan = {
    results: [],
    rows: { partition: [], offset: [], key: [], data: [] },
    dedupe: { source: [], id: [], partition: [], offset: [] },
    next,
    added: next.map(() => ({ count: 0, bytes: 0 })),
  };
  for (const e of events) {
    const k = `${e.source}\u0000${e.id}`;
    const earlier = seen.get(k);
    if (earlier) {
      plan.results.push({ ...earlier, duplicate: true });
      continue;
    }
    const offset = next[e.partition] as number;
    next[e.partition] = offset + 1;
    plan.rows.partition.push(e.partition);
    plan.rows.offset.push(offset);
    plan.rows.key.push(e.key ?? null);
    plan.rows.data.push(Buffer.from(e.data.buffer, e.data.byteOffset, e.data.byteLength));
    const added = plan.added[e.partition] as { count: number; bytes: number };
    added.count++;
    added.bytes += e.data.byteLength;
    const result = { partition: e.partition, offset, duplicate: false };
    if (dedupe) {
      seen.set(k, result);
      plan.dedupe.source.push(e.source);
      plan.dedupe.id.push(e.id);
      plan.dedupe.partition.push(e.partition);
      plan.dedupe.offset.push(offset);
    }
    plan.results.push(result);
  }
  return plan;
}

async function insertPlan(client: ClientBase, topic: string, plan: AppendPlan, now: number): Promise<void> {
  const { rows, dedupe } = plan;
  await client.query(
    `INSERT INTO cebus_events (topic, partition, "offset", publish_time, key, data)
       SELECT $1, p, o, $2, k, d FROM unnest($3::int[], $4::bigint[], $5::text[], $6::bytea[]) AS t(p, o, k, d)`,
    [topic, now, rows.partition, rows.offset, rows.key, rows.data],
  );
  if (dedupe.id.length > 0) {
    await client.query(
      `INSERT INTO cebus_dedupe (topic, source, id, partition, "offset", time)
         SELECT $1, s, i, p, o, $2 FROM unnest($3::text[], $4::text[], $5::int[], $6::bigint[]) AS t(s, i, p, o)
         ON CONFLICT (topic, source, id) DO UPDATE SET partition = EXCLUDED.partition, "offset" = EXCLUDED."offset", time = EXCLUDED.time`,
      [topic, now, dedupe.source, dedupe.id, dedupe.partition, dedupe.offset],
    );
  }
  const touched = plan.added.flatMap((a, p) => (a.count === 0 ? [] : [p]));
  await client.query(
    `UPDATE cebus_partitions p SET next_offset = t.o, event_count = event_count + t.c, bytes = bytes + t.b
       FROM unnest($2::int[], $3::bigint[], $4::bigint[], $5::bigint[]) AS t(p, o, c, b)
      WHERE p.topic = $1 AND p.partition = t.p`,
    [
      topic,
      touched,
      touched.map((p) => plan.next[p]),
      touched.map((p) => plan.added[p]?.count),
      touched.map((p) => plan.added[p]?.bytes),
    ],
  );
}

/**
 * Retention (Store.trim) on the log, inside the caller's transaction: events published before `olderThan`, then
 * the oldest while a partition holds more than `maxBytes` (0 = no cap), and dedupe entries before `dedupeBefore`.
 * Returns the partitions that lost events, with how many.
 */
export async function trimLog(
  client: ClientBase,
  topic: string,
  options: { olderThan: number; maxBytes: number; dedupeBefore: number },
): Promise<Map<number, number>> {
  await lockPartitions(client, topic);
  const trimmed = new Map<number, number>();
  const count = (rows: Row[]) => {
    for (const r of rows) trimmed.set(n(r.partition), (trimmed.get(n(r.partition)) ?? 0) + n(r.removed));
  };
  count(await trimByAge(client, topic, options.olderThan));
  if (options.maxBytes > 0) count(await trimToBytes(client, topic, options.maxBytes));
  if (trimmed.size > 0) await recount(client, topic, [...trimmed.keys()]);
  await client.query("DELETE FROM cebus_dedupe WHERE topic = $1 AND time < $2", [
    topic,
    options.dedupeBefore,
  ]);
  return trimmed;
}

async function trimByAge(client: ClientBase, topic: string, olderThan: number): Promise<Row[]> {
  const result = await client.query(
    `WITH d AS (DELETE FROM cebus_events WHERE topic = $1 AND publish_time < $2 RETURNING partition)
     SELECT partition, count(*) AS removed FROM d GROUP BY partition`,
    [topic, olderThan],
  );
  return result.rows as Row[];
}

/** Removes the oldest events of each partition while it holds more than `maxBytes`. */
async function trimToBytes(client: ClientBase, topic: string, maxBytes: number): Promise<Row[]> {
  const result = await client.query(
    `WITH cut AS (
       SELECT partition, max("offset") AS upto FROM (
         SELECT partition, "offset", sum(length(data)) OVER (PARTITION BY partition ORDER BY "offset" DESC) AS newer
           FROM cebus_events WHERE topic = $1) s
        WHERE newer > $2 GROUP BY partition),
     d AS (DELETE FROM cebus_events e USING cut
            WHERE e.topic = $1 AND e.partition = cut.partition AND e."offset" <= cut.upto RETURNING e.partition)
     SELECT partition, count(*) AS removed FROM d GROUP BY partition`,
    [topic, maxBytes],
  );
  return result.rows as Row[];
}

/** Start offset, count and bytes of the partitions that lost events. */
async function recount(client: ClientBase, topic: string, partitions: number[]): Promise<void> {
  await client.query(
    `UPDATE cebus_partitions p SET start_offset = coalesce(s.first, p.next_offset), event_count = s.n, bytes = s.b
       FROM (SELECT t.p, min(e."offset") AS first, count(e."offset") AS n, coalesce(sum(length(e.data)), 0) AS b
               FROM unnest($2::int[]) AS t(p)
               LEFT JOIN cebus_events e ON e.topic = $1 AND e.partition = t.p GROUP BY t.p) s
      WHERE p.topic = $1 AND p.partition = s.p`,
    [topic, partitions],
  );
}
