import type { SQLInputValue, StatementSync } from "node:sqlite";
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { CebusError } from "@cebus/core";
import { type Subscription, SubscriptionSchema, type Topic, TopicSchema } from "@cebus/proto";
import type {
  AppendEvent,
  AppendOptions,
  AppendResult,
  ClaimRequest,
  Lease,
  PartitionInfo,
  SettleAction,
  Store,
  StoredEvent,
  SubscriptionCounts,
} from "@cebus/store";
import { openDatabase } from "./open-database.js";
import { subscriptionCounts } from "./sqlite-stats.js";

export interface SqliteStoreOptions {
  /**
   * A database file (its directory is created), or ":memory:". A file is locked while the store is open: opening
   * it again, from any process, fails with `failed_precondition` naming the holder's pid (see open-database.ts).
   */
  path: string;
  /**
   * "normal" (default): in WAL mode a committed append survives the process being killed (kill -9), but the last
   * transactions may be lost if the operating system crashes. "full": fsync on every commit, which also survives
   * an OS crash or power loss, at a cost in publish latency.
   */
  synchronous?: "normal" | "full";
}

type Row = Record<string, SQLInputValue>;

/** The embedded store: one SQLite database (node:sqlite), serving one broker process. */
export function createSqliteStore(options: SqliteStoreOptions): Store {
  const memory = options.path === ":memory:";
  const opened = openDatabase(options.path, options.synchronous ?? "normal");
  const db = opened.db;

  const cache = new Map<string, StatementSync>();
  const sql = (text: string): StatementSync => {
    let statement = cache.get(text);
    if (!statement) {
      statement = db.prepare(text);
      cache.set(text, statement);
    }
    return statement;
  };
  let depth = 0;
  function transaction<T>(work: () => T): T {
    if (depth > 0) return work();
    db.exec("BEGIN IMMEDIATE");
    depth++;
    try {
      const result = work();
      db.exec("COMMIT");
      return result;
    } catch (error) {
      db.exec("ROLLBACK");
      throw error;
    } finally {
      depth--;
    }
  }

  const topicMissing = (name: string) =>
    new CebusError("not_found", `topic '${name}' does not exist; create it first`, { field: "topic" });

  function partitionRows(topic: string): PartitionInfo[] {
    const rows = sql(
      "SELECT partition, start_offset, next_offset, event_count, bytes FROM partitions WHERE topic = ? ORDER BY partition",
    ).all(topic) as Row[];
    return rows.map((r) => ({
      partition: Number(r.partition),
      startOffset: Number(r.start_offset),
      endOffset: Number(r.next_offset),
      eventCount: Number(r.event_count),
      bytes: Number(r.bytes),
    }));
  }

  const toEvent = (partition: number, r: Row): StoredEvent => ({
    partition,
    offset: Number(r.offset),
    publishTime: Number(r.publish_time),
    key: (r.key as string | null) ?? undefined,
    data: r.data as Uint8Array,
  });

  const store: Store = {
    description: memory ? "sqlite::memory:" : `sqlite:${options.path}`,

    async createTopic(topic: Topic) {
      return transaction(() => {
        if (sql("SELECT 1 FROM topics WHERE name = ?").get(topic.name)) return false;
        sql("INSERT INTO topics (name, config) VALUES (?, ?)").run(topic.name, toBinary(TopicSchema, topic));
        const insert = sql(
          "INSERT OR REPLACE INTO partitions (topic, partition, start_offset, next_offset, event_count, bytes) VALUES (?, ?, 0, 0, 0, 0)",
        );
        for (let p = 0; p < Math.max(1, topic.partitions); p++) insert.run(topic.name, p);
        return true;
      });
    },

    async getTopic(name) {
      const row = sql("SELECT config FROM topics WHERE name = ?").get(name) as Row | undefined;
      return row ? fromBinary(TopicSchema, row.config as Uint8Array) : undefined;
    },

    async listTopics() {
      const rows = sql("SELECT config FROM topics ORDER BY name").all() as Row[];
      return rows.map((r) => fromBinary(TopicSchema, r.config as Uint8Array));
    },

    async deleteTopic(name) {
      return transaction(() => {
        if (!sql("SELECT 1 FROM topics WHERE name = ?").get(name)) return false;
        sql("DELETE FROM topics WHERE name = ?").run(name);
        sql("DELETE FROM partitions WHERE topic = ?").run(name);
        sql("DELETE FROM events WHERE topic = ?").run(name);
        sql("DELETE FROM dedupe WHERE topic = ?").run(name);
        return true;
      });
    },

    async partitionStats(topic) {
      return partitionRows(topic);
    },

    async offsetForTime(topic, partition, time) {
      const row = sql(
        "SELECT offset FROM events WHERE topic = ? AND partition = ? AND publish_time >= ? ORDER BY offset LIMIT 1",
      ).get(topic, partition, time) as Row | undefined;
      if (row) return Number(row.offset);
      const end = sql("SELECT next_offset FROM partitions WHERE topic = ? AND partition = ?").get(
        topic,
        partition,
      ) as Row | undefined;
      if (!end) throw topicMissing(topic);
      return Number(end.next_offset);
    },

    async append(topic: string, events: AppendEvent[], opts: AppendOptions): Promise<AppendResult[]> {
      return transaction(() => {
        const partitions = partitionRows(topic);
        if (partitions.length === 0) throw topicMissing(topic);
        const next = partitions.map((p) => p.endOffset);
        const added = partitions.map(() => ({ count: 0, bytes: 0 }));
        const dedupe = opts.dedupeSince <= opts.now;
        const findDuplicate = sql(
          "SELECT partition, offset, time FROM dedupe WHERE topic = ? AND source = ? AND id = ?",
        );
        const remember = sql(
          "INSERT OR REPLACE INTO dedupe (topic, source, id, partition, offset, time) VALUES (?, ?, ?, ?, ?, ?)",
        );
        const insert = sql(
          "INSERT INTO events (topic, partition, offset, publish_time, key, data) VALUES (?, ?, ?, ?, ?, ?)",
        );
        const results = events.map((event, i): AppendResult => {
          const offset = next[event.partition];
          if (offset === undefined) {
            throw new CebusError(
              "invalid_argument",
              `events[${i}] targets partition ${event.partition} but topic '${topic}' has ${partitions.length}`,
            );
          }
          if (dedupe) {
            const seen = findDuplicate.get(topic, event.source, event.id) as Row | undefined;
            if (seen && Number(seen.time) >= opts.dedupeSince) {
              return { partition: Number(seen.partition), offset: Number(seen.offset), duplicate: true };
            }
            remember.run(topic, event.source, event.id, event.partition, offset, opts.now);
          }
          insert.run(topic, event.partition, offset, opts.now, event.key ?? null, event.data);
          next[event.partition] = offset + 1;
          const counter = added[event.partition] as { count: number; bytes: number };
          counter.count++;
          counter.bytes += event.data.byteLength;
          return { partition: event.partition, offset, duplicate: false };
        });
        const update = sql(
          "UPDATE partitions SET next_offset = ?, event_count = event_count + ?, bytes = bytes + ? WHERE topic = ? AND partition = ?",
        );
        added.forEach((a, p) => {
          if (a.count > 0) update.run(next[p] as number, a.count, a.bytes, topic, p);
        });
        return results;
      });
    },

    async read(topic, partition, fromOffset, limit) {
      const rows = sql(
        "SELECT offset, publish_time, key, data FROM events WHERE topic = ? AND partition = ? AND offset >= ? ORDER BY offset LIMIT ?",
      ).all(topic, partition, fromOffset, limit) as Row[];
      return rows.map((r) => toEvent(partition, r));
    },

    async createSubscription(subscription: Subscription, cursors: number[]) {
      return transaction(() => {
        if (sql("SELECT 1 FROM subscriptions WHERE name = ?").get(subscription.name)) return false;
        sql("INSERT INTO subscriptions (name, topic, config) VALUES (?, ?, ?)").run(
          subscription.name,
          subscription.topic,
          toBinary(SubscriptionSchema, subscription),
        );
        const insert = sql(
          "INSERT OR REPLACE INTO cursors (subscription, partition, offset) VALUES (?, ?, ?)",
        );
        for (const [partition, offset] of cursors.entries()) insert.run(subscription.name, partition, offset);
        return true;
      });
    },

    async getSubscription(name) {
      const row = sql("SELECT config FROM subscriptions WHERE name = ?").get(name) as Row | undefined;
      return row ? fromBinary(SubscriptionSchema, row.config as Uint8Array) : undefined;
    },

    async listSubscriptions(topic) {
      const rows = (
        topic === undefined
          ? sql("SELECT config FROM subscriptions ORDER BY name").all()
          : sql("SELECT config FROM subscriptions WHERE topic = ? ORDER BY name").all(topic)
      ) as Row[];
      return rows.map((r) => fromBinary(SubscriptionSchema, r.config as Uint8Array));
    },

    async deleteSubscription(name) {
      return transaction(() => {
        if (!sql("SELECT 1 FROM subscriptions WHERE name = ?").get(name)) return false;
        sql("DELETE FROM subscriptions WHERE name = ?").run(name);
        sql("DELETE FROM cursors WHERE subscription = ?").run(name);
        sql("DELETE FROM leases WHERE subscription = ?").run(name);
        return true;
      });
    },

    async seek(subscription, cursors) {
      transaction(() => {
        sql("DELETE FROM leases WHERE subscription = ?").run(subscription);
        const update = sql(
          "INSERT OR REPLACE INTO cursors (subscription, partition, offset) VALUES (?, ?, ?)",
        );
        for (const [partition, offset] of cursors.entries()) update.run(subscription, partition, offset);
      });
    },

    async claim(request: ClaimRequest): Promise<Lease[]> {
      const {
        subscription,
        topic,
        partition,
        max,
        maxBytes,
        now,
        leaseMs,
        token,
        autoAck,
        ordered,
        expiryDelayMs,
      } = request;
      if (max <= 0) return [];
      return transaction(() => {
        const leases: Lease[] = [];
        let bytes = 0;
        const fits = (size: number) => leases.length === 0 || bytes + size <= maxBytes;
        const deadline = now + leaseMs;
        if (!autoAck) {
          // Visible leases: expired or past their nack delay. Ordered: only the earliest lease of each key.
          const visible = sql(
            ordered
              ? `SELECT offset, attempt, held, deadline FROM leases l WHERE subscription = ? AND partition = ? AND deadline <= ?
                   AND (key IS NULL OR NOT EXISTS (SELECT 1 FROM leases o WHERE o.subscription = l.subscription
                     AND o.partition = l.partition AND o.key = l.key AND o.offset < l.offset))
                 ORDER BY offset LIMIT ?`
              : "SELECT offset, attempt, held, deadline FROM leases WHERE subscription = ? AND partition = ? AND deadline <= ? ORDER BY offset LIMIT ?",
          ).all(subscription, partition, now, max) as Row[];
          const readOne = sql(
            "SELECT offset, publish_time, key, data FROM events WHERE topic = ? AND partition = ? AND offset = ?",
          );
          const relet = sql(
            "UPDATE leases SET attempt = ?, token = ?, deadline = ?, held = 1 WHERE subscription = ? AND partition = ? AND offset = ?",
          );
          const wait = sql(
            "UPDATE leases SET held = 0, deadline = ? WHERE subscription = ? AND partition = ? AND offset = ?",
          );
          const drop = sql("DELETE FROM leases WHERE subscription = ? AND partition = ? AND offset = ?");
          for (const row of visible) {
            const offset = Number(row.offset);
            if (Number(row.held) === 1 && expiryDelayMs) {
              // An expired lease waits out the subscription's backoff, like a nack without a delay.
              const retryAt = Number(row.deadline) + expiryDelayMs(Number(row.attempt), offset);
              if (retryAt > now) {
                wait.run(retryAt, subscription, partition, offset);
                continue;
              }
            }
            const stored = readOne.get(topic, partition, offset) as Row | undefined;
            if (!stored) {
              drop.run(subscription, partition, offset); // removed by retention: nothing left to deliver
              continue;
            }
            const event = toEvent(partition, stored);
            if (!fits(event.data.byteLength)) return leases;
            const attempt = Number(row.attempt) + 1;
            relet.run(attempt, token, deadline, subscription, partition, offset);
            bytes += event.data.byteLength;
            leases.push({ event, attempt, token, deadline });
          }
        }
        const room = max - leases.length;
        if (room <= 0) return leases;
        const cursorRow = sql("SELECT offset FROM cursors WHERE subscription = ? AND partition = ?").get(
          subscription,
          partition,
        ) as Row | undefined;
        if (!cursorRow) {
          throw new CebusError(
            "not_found",
            `subscription '${subscription}' does not exist; create it first`,
            {
              field: "subscription",
            },
          );
        }
        const fresh = sql(
          "SELECT offset, publish_time, key, data FROM events WHERE topic = ? AND partition = ? AND offset >= ? ORDER BY offset LIMIT ?",
        ).all(topic, partition, Number(cursorRow.offset), room) as Row[];
        if (fresh.length === 0) return leases;
        const insert = sql(
          "INSERT OR REPLACE INTO leases (subscription, partition, offset, attempt, token, deadline, held, key) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        );
        const keyBusy = sql(
          "SELECT 1 FROM leases WHERE subscription = ? AND partition = ? AND key = ? LIMIT 1",
        );
        let cursor = Number(cursorRow.offset);
        for (const row of fresh) {
          const event = toEvent(partition, row);
          if (
            ordered &&
            !autoAck &&
            event.key !== undefined &&
            keyBusy.get(subscription, partition, event.key)
          ) {
            insert.run(subscription, partition, event.offset, 0, "", 0, 0, event.key); // parked behind its key
            cursor = event.offset + 1;
            continue;
          }
          if (!fits(event.data.byteLength)) break;
          if (!autoAck)
            insert.run(subscription, partition, event.offset, 1, token, deadline, 1, event.key ?? null);
          bytes += event.data.byteLength;
          leases.push({ event, attempt: 1, token, deadline: autoAck ? 0 : deadline });
          cursor = event.offset + 1;
        }
        sql("UPDATE cursors SET offset = ? WHERE subscription = ? AND partition = ?").run(
          cursor,
          subscription,
          partition,
        );
        return leases;
      });
    },

    async requeue(subscription, refs, now) {
      return transaction(() => {
        const sub = sql("SELECT topic FROM subscriptions WHERE name = ?").get(subscription) as
          | Row
          | undefined;
        if (!sub)
          throw new CebusError("not_found", `subscription '${subscription}' does not exist`, {
            field: "subscription",
          });
        const event = sql("SELECT key FROM events WHERE topic = ? AND partition = ? AND offset = ?");
        const insert = sql(
          "INSERT OR IGNORE INTO leases (subscription, partition, offset, attempt, token, deadline, held, key) VALUES (?, ?, ?, 0, '', ?, 0, ?)",
        );
        let count = 0;
        for (const ref of refs) {
          const row = event.get(sub.topic as string, ref.partition, ref.offset) as Row | undefined;
          if (!row) continue;
          count += Number(insert.run(subscription, ref.partition, ref.offset, now, row.key ?? null).changes);
        }
        return count;
      });
    },

    async trim(topic, { olderThan, maxBytes, dedupeBefore }) {
      return transaction(() => {
        let removed = 0;
        for (const p of partitionRows(topic)) {
          removed += Number(
            sql("DELETE FROM events WHERE topic = ? AND partition = ? AND publish_time < ?").run(
              topic,
              p.partition,
              olderThan,
            ).changes,
          );
          const totals = sql(
            "SELECT min(offset) AS first, count(*) AS n, coalesce(sum(length(data)), 0) AS bytes FROM events WHERE topic = ? AND partition = ?",
          ).get(topic, p.partition) as Row;
          let bytes = Number(totals.bytes);
          if (maxBytes > 0 && bytes > maxBytes) {
            const oldest = sql(
              "SELECT offset, length(data) AS size FROM events WHERE topic = ? AND partition = ? ORDER BY offset",
            ).iterate(topic, p.partition) as Iterable<Row>;
            let cut = -1;
            for (const row of oldest) {
              if (bytes <= maxBytes) break;
              bytes -= Number(row.size);
              cut = Number(row.offset);
            }
            removed += Number(
              sql("DELETE FROM events WHERE topic = ? AND partition = ? AND offset <= ?").run(
                topic,
                p.partition,
                cut,
              ).changes,
            );
          }
          const after = sql(
            "SELECT min(offset) AS first, count(*) AS n, coalesce(sum(length(data)), 0) AS bytes FROM events WHERE topic = ? AND partition = ?",
          ).get(topic, p.partition) as Row;
          sql(
            "UPDATE partitions SET start_offset = ?, event_count = ?, bytes = ? WHERE topic = ? AND partition = ?",
          ).run(
            after.first === null ? p.endOffset : Number(after.first),
            Number(after.n),
            Number(after.bytes),
            topic,
            p.partition,
          );
        }
        sql("DELETE FROM dedupe WHERE topic = ? AND time < ?").run(topic, dedupeBefore);
        return removed;
      });
    },

    async settle(subscription: string, action: SettleAction): Promise<boolean[]> {
      return transaction(() => {
        const find = sql(
          "SELECT token, deadline, held FROM leases WHERE subscription = ? AND partition = ? AND offset = ?",
        );
        const matches = action.leases.map((ref) => {
          const row = find.get(subscription, ref.partition, ref.offset) as Row | undefined;
          return (
            row !== undefined &&
            row.token === ref.token &&
            Number(row.held) === 1 &&
            Number(row.deadline) > action.now
          );
        });
        if (action.allOrNothing && matches.some((m) => !m)) return matches;
        const apply =
          action.kind === "ack" || action.kind === "term"
            ? (p: number, o: number) =>
                sql("DELETE FROM leases WHERE subscription = ? AND partition = ? AND offset = ?").run(
                  subscription,
                  p,
                  o,
                )
            : action.kind === "nack"
              ? (p: number, o: number) =>
                  sql(
                    "UPDATE leases SET held = 0, deadline = ? WHERE subscription = ? AND partition = ? AND offset = ?",
                  ).run(action.until ?? action.now, subscription, p, o)
              : (p: number, o: number) =>
                  sql(
                    "UPDATE leases SET deadline = ? WHERE subscription = ? AND partition = ? AND offset = ?",
                  ).run(action.until ?? action.now, subscription, p, o);
        action.leases.forEach((ref, i) => {
          if (matches[i]) apply(ref.partition, ref.offset);
        });
        return matches;
      });
    },

    async subscriptionStats(subscription, now): Promise<SubscriptionCounts> {
      return subscriptionCounts(sql, subscription, now);
    },

    async close() {
      opened.close();
    },
  };
  return store;
}
