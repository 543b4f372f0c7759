import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { CebusError } from "@cebus/core";
import { type Topic, TopicSchema } from "@cebus/proto";
import type { AppendEvent, AppendOptions, AppendResult, PartitionInfo, StoredEvent } from "@cebus/store";
import type { EventReader } from "@cebus/store/delivery";
import { createRecentEvents, type RecentEvents } from "./recent-events.js";
import type { Db, Row } from "./sqlite-db.js";

/**
 * The log of the embedded store: topics, their partitions (offsets, counts, bytes), events and dedupe entries.
 * Nothing here knows about subscriptions; the delivery state reads the log through `eventReader`. The newest
 * events of each partition are also kept in memory (recent-events.ts) and reads of them are served from there.
 */

const recents = new WeakMap<Db, RecentEvents>();

/** The recent events of one store's database (forgotten on every rollback). */
function recentOf(db: Db): RecentEvents {
  let recent = recents.get(db);
  if (!recent) {
    const created = createRecentEvents();
    db.onRollback(() => created.clear());
    recents.set(db, created);
    recent = created;
  }
  return recent;
}

export function topicMissing(name: string): CebusError {
  return new CebusError("not_found", `topic '${name}' does not exist; create it first`, { field: "topic" });
}

export function createTopic(db: Db, topic: Topic): boolean {
  if (db.sql("SELECT 1 FROM topics WHERE name = ?").get(topic.name)) return false;
  db.sql("INSERT INTO topics (name, config) VALUES (?, ?)").run(topic.name, toBinary(TopicSchema, topic));
  const insert = db.sql(
    "INSERT OR REPLACE INTO partitions (topic, partition, start_offset, next_offset, event_count, bytes) VALUES (?, ?, 0, 0, 0, 0)",
  );
  for (let p = 0; p < Math.max(1, topic.partitions); p++) insert.run(topic.name, p);
  return true;
}

export function getTopic(db: Db, name: string): Topic | undefined {
  const row = db.sql("SELECT config FROM topics WHERE name = ?").get(name) as Row | undefined;
  return row ? fromBinary(TopicSchema, row.config as Uint8Array) : undefined;
}

export function listTopics(db: Db): Topic[] {
  const rows = db.sql("SELECT config FROM topics ORDER BY name").all() as Row[];
  return rows.map((r) => fromBinary(TopicSchema, r.config as Uint8Array));
}

export function deleteTopic(db: Db, name: string): boolean {
  if (!db.sql("SELECT 1 FROM topics WHERE name = ?").get(name)) return false;
  db.sql("DELETE FROM topics WHERE name = ?").run(name);
  db.sql("DELETE FROM partitions WHERE topic = ?").run(name);
  db.sql("DELETE FROM events WHERE topic = ?").run(name);
  db.sql("DELETE FROM dedupe WHERE topic = ?").run(name);
  recentOf(db).forgetTopic(name);
  return true;
}

export function partitionRows(db: Db, topic: string): PartitionInfo[] {
  const rows = db
    .sql(
      "SELECT partition, start_offset, next_offset, event_count, bytes FROM partitions WHERE topic = ? ORDER BY partition",
    )
    .all(topic) as Row[];
  return rows.map((r) => ({
    partition: Number(r.partition),
    startOffset: Number(r.start_offset),
    endOffset: Number(r.next_offset),
    eventCount: Number(r.event_count),
    bytes: Number(r.bytes),
  }));
}

/** The first offset (in offset order) whose publish time is at or after `time`; publish times need not grow. */
export function offsetForTime(db: Db, topic: string, partition: number, time: number): number {
  const row = db
    .sql(
      "SELECT offset FROM events WHERE topic = ? AND partition = ? AND publish_time >= ? ORDER BY offset LIMIT 1",
    )
    .get(topic, partition, time) as Row | undefined;
  if (row) return Number(row.offset);
  const end = db
    .sql("SELECT next_offset FROM partitions WHERE topic = ? AND partition = ?")
    .get(topic, partition) as Row | undefined;
  if (!end) throw topicMissing(topic);
  return Number(end.next_offset);
}

/** Store.append: every event stored (or found a duplicate) in one transaction, then the partitions moved on. */
export function append(db: Db, topic: string, events: AppendEvent[], opts: AppendOptions): AppendResult[] {
  const partitions = partitionRows(db, topic);
  if (partitions.length === 0) throw topicMissing(topic);
  const next = partitions.map((p) => p.endOffset);
  const added = partitions.map(() => ({ count: 0, bytes: 0, events: [] as StoredEvent[] }));
  const results = events.map((event, i): AppendResult => {
    const offset = next[event.partition];
    if (offset === undefined) {
      throw new CebusError(
        "invalid_argument",
        `events[${i}] targets partition ${event.partition} but topic '${topic}' has ${partitions.length}`,
      );
    }
    const seen = duplicateOf(db, topic, event, offset, opts);
    if (seen) return seen;
    db.sql(
      "INSERT INTO events (topic, partition, offset, publish_time, key, data) VALUES (?, ?, ?, ?, ?, ?)",
    ).run(topic, event.partition, offset, opts.now, event.key ?? null, event.data);
    next[event.partition] = offset + 1;
    const counter = added[event.partition] as (typeof added)[number];
    counter.count++;
    counter.bytes += event.data.byteLength;
    counter.events.push({
      partition: event.partition,
      offset,
      publishTime: opts.now,
      key: event.key,
      data: event.data,
    });
    return { partition: event.partition, offset, duplicate: false };
  });
  const update = db.sql(
    "UPDATE partitions SET next_offset = ?, event_count = event_count + ?, bytes = bytes + ? WHERE topic = ? AND partition = ?",
  );
  added.forEach((a, p) => {
    if (a.count === 0) return;
    update.run(next[p] as number, a.count, a.bytes, topic, p);
    recentOf(db).appended(topic, p, a.events);
  });
  return results;
}

/**
 * The earlier append of this (source, id) inside the dedupe window, or undefined after recording this one. One
 * statement in the common case: the insert (or the replacement of an entry older than the window) changes a row
 * unless a live entry exists, and only then is that entry read.
 */
function duplicateOf(
  db: Db,
  topic: string,
  event: AppendEvent,
  offset: number,
  opts: AppendOptions,
): AppendResult | undefined {
  if (opts.dedupeSince > opts.now) return undefined;
  const recorded = db
    .sql(
      "INSERT INTO dedupe (topic, source, id, partition, offset, time) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (topic, source, id) DO UPDATE SET partition = excluded.partition, offset = excluded.offset, time = excluded.time WHERE dedupe.time < ?",
    )
    .run(topic, event.source, event.id, event.partition, offset, opts.now, opts.dedupeSince);
  if (Number(recorded.changes) > 0) return undefined;
  const seen = db
    .sql("SELECT partition, offset FROM dedupe WHERE topic = ? AND source = ? AND id = ?")
    .get(topic, event.source, event.id) as Row;
  return { partition: Number(seen.partition), offset: Number(seen.offset), duplicate: true };
}

export function read(
  db: Db,
  topic: string,
  partition: number,
  fromOffset: number,
  limit: number,
): StoredEvent[] {
  const recent = recentOf(db).from(topic, partition, fromOffset, limit);
  if (recent) return recent;
  const rows = db
    .sql(
      "SELECT offset, publish_time, key, data FROM events WHERE topic = ? AND partition = ? AND offset >= ? ORDER BY offset LIMIT ?",
    )
    .all(topic, partition, fromOffset, limit) as Row[];
  return rows.map((r) => toEvent(partition, r));
}

/** A partition's log as the delivery rules read it (one primary-key lookup per `at`). */
export function eventReader(db: Db, topic: string, partition: number): EventReader {
  const one = db.sql(
    "SELECT offset, publish_time, key, data FROM events WHERE topic = ? AND partition = ? AND offset = ?",
  );
  return {
    at: (offset) => {
      const recent = recentOf(db).at(topic, partition, offset);
      if (recent) return recent;
      const row = one.get(topic, partition, offset) as Row | undefined;
      return row && toEvent(partition, row);
    },
    from: (offset, limit) => read(db, topic, partition, offset, limit),
  };
}

function toEvent(partition: number, r: Row): StoredEvent {
  return {
    partition,
    offset: Number(r.offset),
    publishTime: Number(r.publish_time),
    key: (r.key as string | null) ?? undefined,
    data: r.data as Uint8Array,
  };
}

/**
 * Retention (Store.trim) on the log: events published before `olderThan`, then the oldest while a partition holds
 * more than `maxBytes` (0 = no cap), and dedupe entries before `dedupeBefore`. Returns the partitions that lost
 * events, with how many.
 */
export function trimLog(
  db: Db,
  topic: string,
  options: { olderThan: number; maxBytes: number; dedupeBefore: number },
): Map<number, number> {
  const trimmed = new Map<number, number>();
  recentOf(db).forgetTopic(topic);
  for (const p of partitionRows(db, topic)) {
    let removed = Number(
      db
        .sql("DELETE FROM events WHERE topic = ? AND partition = ? AND publish_time < ?")
        .run(topic, p.partition, options.olderThan).changes,
    );
    removed += trimToBytes(db, topic, p.partition, options.maxBytes);
    const after = totals(db, topic, p.partition);
    db.sql(
      "UPDATE partitions SET start_offset = ?, event_count = ?, bytes = ? WHERE topic = ? AND partition = ?",
    ).run(after.first ?? p.endOffset, after.count, after.bytes, topic, p.partition);
    if (removed > 0) trimmed.set(p.partition, removed);
  }
  db.sql("DELETE FROM dedupe WHERE topic = ? AND time < ?").run(topic, options.dedupeBefore);
  return trimmed;
}

/** Removes the oldest events while the partition holds more than `maxBytes` (0 = no cap); returns how many. */
function trimToBytes(db: Db, topic: string, partition: number, maxBytes: number): number {
  let bytes = totals(db, topic, partition).bytes;
  if (maxBytes <= 0 || bytes <= maxBytes) return 0;
  const oldest = db
    .sql("SELECT offset, length(data) AS size FROM events WHERE topic = ? AND partition = ? ORDER BY offset")
    .iterate(topic, partition) as Iterable<Row>;
  let cut = -1;
  for (const row of oldest) {
    if (bytes <= maxBytes) break;
    bytes -= Number(row.size);
    cut = Number(row.offset);
  }
  return Number(
    db.sql("DELETE FROM events WHERE topic = ? AND partition = ? AND offset <= ?").run(topic, partition, cut)
      .changes,
  );
}

function totals(db: Db, topic: string, partition: number): { first?: number; count: number; bytes: number } {
  const row = db
    .sql(
      "SELECT min(offset) AS first, count(*) AS n, coalesce(sum(length(data)), 0) AS bytes FROM events WHERE topic = ? AND partition = ?",
    )
    .get(topic, partition) as Row;
  const first = row.first === null ? undefined : Number(row.first);
  return { ...(first === undefined ? {} : { first }), count: Number(row.n), bytes: Number(row.bytes) };
}
