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
  StoreChange,
  StoredEvent,
  SubscriptionCounts,
  SubscriptionRef,
} from "@cebus/store";
import { unreadRetained } from "@cebus/store";
import type { ClientBase, Pool, PoolClient } from "pg";
import { relayOutbox } from "./outbox.js";

export interface PostgresStoreOptions {
  /** A pg Pool on a migrated database (see openPostgresStore). The store ends it on close. */
  pool: Pool;
  description?: string;
  /** Keep a connection LISTENing for changes made by other brokers (re-established after an outage) [false]. */
  listen?: boolean;
  /** Move transactional-outbox rows into their topics this often [off]. */
  relayOutboxEveryMs?: number;
}

type Row = Record<string, unknown>;
const CHANNEL = "cebus_changes";
const n = (v: unknown) => Number(v);

/**
 * The store on PostgreSQL: one transaction per operation. Appends lock the partition row, so offsets commit in
 * order; claims lock the subscription partition's cursor row, so concurrent brokers never lease one event twice;
 * NOTIFY tells every broker (LISTEN) about new and nacked events; the outbox relay takes rows with SKIP LOCKED.
 */
export function createPostgresStore(options: PostgresStoreOptions): Store {
  const { pool } = options;
  const listeners = new Set<(change: StoreChange) => void>();
  let healthy = true;
  let closed = false;
  let probing: NodeJS.Timeout | undefined;
  // While unhealthy, a probe every 500 ms finds PostgreSQL back even on a broker with no traffic (readyz).
  const probe = () => {
    probing = undefined;
    if (healthy || closed) return;
    pool.query("SELECT 1").then(
      () => {
        healthy = true;
      },
      () => {
        if (!probing && !closed) probing = setTimeout(probe, 500).unref();
      },
    );
  };
  const markUnhealthy = () => {
    healthy = false;
    if (!probing && !closed) probing = setTimeout(probe, 500).unref();
  };
  pool.on("error", markUnhealthy);

  async function tx<T>(work: (c: PoolClient) => Promise<T>): Promise<T> {
    let client: PoolClient;
    try {
      client = await pool.connect();
    } catch (error) {
      markUnhealthy();
      throw unavailable(error);
    }
    let broken: Error | undefined;
    const lost = (error: Error) => {
      broken = error;
      markUnhealthy(); // the connection died while checked out: the query in flight fails, the pool replaces it
    };
    client.on("error", lost);
    try {
      await client.query("BEGIN");
      const result = await work(client);
      await client.query("COMMIT");
      healthy = true;
      return result;
    } catch (error) {
      await client.query("ROLLBACK").catch(() => {});
      if (error instanceof CebusError) throw error;
      throw unavailable(error);
    } finally {
      client.off("error", lost);
      client.release(broken); // a broken connection is closed, not returned to the pool
    }
  }
  const query = async (text: string, values: unknown[] = []): Promise<Row[]> => {
    try {
      const result = await pool.query(text, values);
      healthy = true;
      return result.rows as Row[];
    } catch (error) {
      // no SQLSTATE, or a connection/shutdown class (08, 57P): the server is away, not the query wrong
      const code = (error as { code?: unknown }).code;
      if (typeof code !== "string" || !/^[0-9A-Z]{5}$/.test(code) || /^(08|57P)/.test(code)) markUnhealthy();
      throw unavailable(error);
    }
  };
  function unavailable(error: unknown): CebusError {
    const message = error instanceof Error ? error.message : String(error);
    return new CebusError("unavailable", `postgres: ${message}; retry when the database is back`, {
      cause: error,
    });
  }
  const notify = (client: PoolClient | ClientBase, change: StoreChange) =>
    client.query("SELECT pg_notify($1, $2)", [CHANNEL, JSON.stringify(change)]);

  const topicMissing = (name: string) =>
    new CebusError("not_found", `topic '${name}' does not exist; create it first`, { field: "topic" });
  const subscriptionMissing = (name: string) =>
    new CebusError("not_found", `subscription '${name}' does not exist; create it first`, {
      field: "subscription",
    });
  const toEvent = (partition: number, r: Row): StoredEvent => ({
    partition,
    offset: n(r.offset),
    publishTime: n(r.publish_time),
    key: (r.key as string | null) ?? undefined,
    data: new Uint8Array(r.data as Buffer),
  });

  let listener: PoolClient | undefined;
  async function listen(): Promise<void> {
    if (closed || !options.listen) return;
    try {
      const client = await pool.connect();
      listener = client;
      const again = () => {
        if (listener !== client) return;
        listener = undefined;
        client.release(true);
        setTimeout(() => void listen(), 500).unref?.();
      };
      client.on("error", again);
      client.on("end", again);
      client.on("notification", (message) => {
        if (message.channel !== CHANNEL || !message.payload) return;
        try {
          const change = JSON.parse(message.payload) as StoreChange;
          for (const l of listeners) l(change);
        } catch {
          // not ours
        }
      });
      await client.query(`LISTEN ${CHANNEL}`);
    } catch {
      setTimeout(() => void listen(), 500).unref?.();
    }
  }
  void listen();

  /** Appends inside the caller's transaction (the outbox relay appends and deletes its rows in one). */
  async function appendIn(
    c: PoolClient | ClientBase,
    topic: string,
    events: AppendEvent[],
    opts: AppendOptions,
  ): Promise<AppendResult[]> {
    // Lock the partition rows first (in partition order: no deadlock between appenders).
    const parts = (
      await c.query(
        "SELECT partition, next_offset FROM cebus_partitions WHERE topic = $1 ORDER BY partition FOR UPDATE",
        [topic],
      )
    ).rows as Row[];
    if (parts.length === 0) throw topicMissing(topic);
    const next = parts.map((p) => n(p.next_offset));
    events.forEach((e, i) => {
      if (e.partition >= parts.length || e.partition < 0) {
        throw new CebusError(
          "invalid_argument",
          `events[${i}] targets partition ${e.partition} but topic '${topic}' has ${parts.length}`,
        );
      }
    });
    const dedupe = opts.dedupeSince <= opts.now;
    const seen = new Map<string, AppendResult>();
    if (dedupe) {
      const rows = (
        await c.query(
          `SELECT source, id, partition, "offset" FROM cebus_dedupe WHERE topic = $1 AND time >= $2
                 AND (source, id) IN (SELECT * FROM unnest($3::text[], $4::text[]))`,
          [topic, opts.dedupeSince, events.map((e) => e.source), events.map((e) => e.id)],
        )
      ).rows as Row[];
      for (const r of rows) {
        seen.set(`${r.source}\u0000${r.id}`, {
          partition: n(r.partition),
          offset: n(r.offset),
          duplicate: true,
        });
      }
    }
    const out: AppendResult[] = [];
    const cols = {
      partition: [] as number[],
      offset: [] as number[],
      key: [] as (string | null)[],
      data: [] as Buffer[],
    };
    const dd = {
      source: [] as string[],
      id: [] as string[],
      partition: [] as number[],
      offset: [] as number[],
    };
    const added = parts.map(() => ({ count: 0, bytes: 0 }));
    for (const e of events) {
      const k = `${e.source}\u0000${e.id}`;
      const earlier = seen.get(k);
      if (earlier) {
        out.push({ ...earlier, duplicate: true });
        continue;
      }
      const offset = next[e.partition] as number;
      next[e.partition] = offset + 1;
      cols.partition.push(e.partition);
      cols.offset.push(offset);
      cols.key.push(e.key ?? null);
      cols.data.push(Buffer.from(e.data.buffer, e.data.byteOffset, e.data.byteLength));
      const a = added[e.partition] as { count: number; bytes: number };
      a.count++;
      a.bytes += e.data.byteLength;
      const result = { partition: e.partition, offset, duplicate: false };
      if (dedupe) {
        seen.set(k, result);
        dd.source.push(e.source);
        dd.id.push(e.id);
        dd.partition.push(e.partition);
        dd.offset.push(offset);
      }
      out.push(result);
    }
    if (cols.offset.length > 0) {
      await c.query(
        `INSERT INTO cebus_events (topic, partition, "offset", publish_time, key, data)
               SELECT $1, p, o, $2, k, d FROM unnest($3::int[], $4::bigint[], $5::text[], $6::bytea[]) AS t(p, o, k, d)`,
        [topic, opts.now, cols.partition, cols.offset, cols.key, cols.data],
      );
      if (dd.id.length > 0) {
        await c.query(
          `INSERT INTO cebus_dedupe (topic, source, id, partition, "offset", time)
                 SELECT $1, s, i, p, o, $2 FROM unnest($3::text[], $4::text[], $5::int[], $6::bigint[]) AS t(s, i, p, o)
                 ON CONFLICT (topic, source, id) DO UPDATE SET partition = EXCLUDED.partition, "offset" = EXCLUDED."offset", time = EXCLUDED.time`,
          [topic, opts.now, dd.source, dd.id, dd.partition, dd.offset],
        );
      }
      for (const [p, a] of added.entries()) {
        if (a.count === 0) continue;
        await c.query(
          "UPDATE cebus_partitions SET next_offset = $3, event_count = event_count + $4, bytes = bytes + $5 WHERE topic = $1 AND partition = $2",
          [topic, p, next[p], a.count, a.bytes],
        );
      }
      await notify(c, { topic });
    }
    return out;
  }

  const store: Store = {
    description: options.description ?? "postgres",

    async createTopic(topic: Topic) {
      return tx(async (c) => {
        const inserted = await c.query(
          "INSERT INTO cebus_topics (name, config) VALUES ($1, $2) ON CONFLICT DO NOTHING",
          [topic.name, Buffer.from(toBinary(TopicSchema, topic))],
        );
        if (inserted.rowCount === 0) return false;
        await c.query(
          "INSERT INTO cebus_partitions (topic, partition) SELECT $1, generate_series(0, $2 - 1)",
          [topic.name, Math.max(1, topic.partitions)],
        );
        return true;
      });
    },

    async getTopic(name) {
      const [row] = await query("SELECT config FROM cebus_topics WHERE name = $1", [name]);
      return row ? fromBinary(TopicSchema, row.config as Buffer) : undefined;
    },

    async listTopics() {
      const rows = await query("SELECT config FROM cebus_topics ORDER BY name");
      return rows.map((r) => fromBinary(TopicSchema, r.config as Buffer));
    },

    async deleteTopic(name) {
      return tx(async (c) => {
        const deleted = await c.query("DELETE FROM cebus_topics WHERE name = $1", [name]);
        if (deleted.rowCount === 0) return false;
        await c.query("DELETE FROM cebus_events WHERE topic = $1", [name]);
        await c.query("DELETE FROM cebus_dedupe WHERE topic = $1", [name]);
        return true;
      });
    },

    async partitionStats(topic) {
      const rows = await query(
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
    },

    async offsetForTime(topic, partition, time) {
      const [row] = await query(
        `SELECT "offset" FROM cebus_events WHERE topic = $1 AND partition = $2 AND publish_time >= $3 ORDER BY "offset" LIMIT 1`,
        [topic, partition, time],
      );
      if (row) return n(row.offset);
      const [end] = await query(
        "SELECT next_offset FROM cebus_partitions WHERE topic = $1 AND partition = $2",
        [topic, partition],
      );
      if (!end) throw topicMissing(topic);
      return n(end.next_offset);
    },

    async append(topic: string, events: AppendEvent[], opts: AppendOptions): Promise<AppendResult[]> {
      return tx((c) => appendIn(c, topic, events, opts));
    },

    async read(topic, partition, fromOffset, limit) {
      const rows = await query(
        `SELECT "offset", publish_time, key, data FROM cebus_events WHERE topic = $1 AND partition = $2 AND "offset" >= $3 ORDER BY "offset" LIMIT $4`,
        [topic, partition, fromOffset, limit],
      );
      return rows.map((r) => toEvent(partition, r));
    },

    async createSubscription(subscription: Subscription, cursors: number[]) {
      return tx(async (c) => {
        const inserted = await c.query(
          "INSERT INTO cebus_subscriptions (name, topic, config) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
          [subscription.name, subscription.topic, Buffer.from(toBinary(SubscriptionSchema, subscription))],
        );
        if (inserted.rowCount === 0) return false;
        await c.query(
          `INSERT INTO cebus_cursors (subscription, partition, "offset") SELECT $1, p - 1, o FROM unnest($2::bigint[]) WITH ORDINALITY AS t(o, p)`,
          [subscription.name, cursors],
        );
        return true;
      });
    },

    async getSubscription(name) {
      const [row] = await query("SELECT config FROM cebus_subscriptions WHERE name = $1", [name]);
      return row ? fromBinary(SubscriptionSchema, row.config as Buffer) : undefined;
    },

    async listSubscriptions(topic) {
      const rows =
        topic === undefined
          ? await query("SELECT config FROM cebus_subscriptions ORDER BY name")
          : await query("SELECT config FROM cebus_subscriptions WHERE topic = $1 ORDER BY name", [topic]);
      return rows.map((r) => fromBinary(SubscriptionSchema, r.config as Buffer));
    },

    async deleteSubscription(name) {
      const rows = await query("DELETE FROM cebus_subscriptions WHERE name = $1 RETURNING name", [name]);
      return rows.length > 0;
    },

    async seek({ subscription }, cursors) {
      await tx(async (c) => {
        const [sub] = (await c.query("SELECT topic FROM cebus_subscriptions WHERE name = $1", [subscription]))
          .rows as Row[];
        await c.query("DELETE FROM cebus_leases WHERE subscription = $1", [subscription]);
        await c.query(
          `UPDATE cebus_cursors c SET "offset" = t.o FROM unnest($2::bigint[]) WITH ORDINALITY AS t(o, p)
             WHERE c.subscription = $1 AND c.partition = t.p - 1`,
          [subscription, cursors],
        );
        if (sub) await notify(c, { topic: sub.topic as string, subscription });
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
      return tx(async (c) => {
        // One claimer per subscription partition at a time (the cursor row's lock, held for a few ms); the next
        // claimer then sees the leases and the cursor the previous one committed.
        const [cursorRow] = (
          await c.query(
            `SELECT "offset" FROM cebus_cursors WHERE subscription = $1 AND partition = $2 FOR UPDATE`,
            [subscription, partition],
          )
        ).rows as Row[];
        if (!cursorRow) throw subscriptionMissing(subscription);
        const leases: Lease[] = [];
        let bytes = 0;
        const fits = (size: number) => leases.length === 0 || bytes + size <= maxBytes;
        const deadline = now + leaseMs;
        if (!autoAck) {
          // FOR UPDATE: a settle committing meanwhile (an ack deletes the row) is seen, so an acked event is never
          // leased again; rows are re-checked against the conditions once the settle's lock is released.
          const visible = (
            await c.query(
              ordered
                ? `SELECT l."offset", l.attempt, l.held, l.deadline, e.publish_time, e.key, e.data, e."offset" AS present
                     FROM cebus_leases l LEFT JOIN cebus_events e ON e.topic = $4 AND e.partition = l.partition AND e."offset" = l."offset"
                    WHERE l.subscription = $1 AND l.partition = $2 AND l.deadline <= $3
                      AND (l.key IS NULL OR NOT EXISTS (SELECT 1 FROM cebus_leases o WHERE o.subscription = l.subscription
                           AND o.partition = l.partition AND o.key = l.key AND o."offset" < l."offset"))
                    ORDER BY l."offset" LIMIT $5 FOR UPDATE OF l`
                : `SELECT l."offset", l.attempt, l.held, l.deadline, e.publish_time, e.key, e.data, e."offset" AS present
                     FROM cebus_leases l LEFT JOIN cebus_events e ON e.topic = $4 AND e.partition = l.partition AND e."offset" = l."offset"
                    WHERE l.subscription = $1 AND l.partition = $2 AND l.deadline <= $3 ORDER BY l."offset" LIMIT $5 FOR UPDATE OF l`,
              [subscription, partition, now, topic, max],
            )
          ).rows as Row[];
          for (const row of visible) {
            const offset = n(row.offset);
            if (row.held && expiryDelayMs) {
              const retryAt = n(row.deadline) + expiryDelayMs(n(row.attempt), offset);
              if (retryAt > now) {
                await c.query(
                  `UPDATE cebus_leases SET held = false, deadline = $4 WHERE subscription = $1 AND partition = $2 AND "offset" = $3`,
                  [subscription, partition, offset, retryAt],
                );
                continue;
              }
            }
            if (row.present === null) {
              await c.query(
                `DELETE FROM cebus_leases WHERE subscription = $1 AND partition = $2 AND "offset" = $3`,
                [subscription, partition, offset],
              );
              continue;
            }
            const event = toEvent(partition, row);
            if (!fits(event.data.byteLength)) return leases;
            const attempt = n(row.attempt) + 1;
            await c.query(
              `UPDATE cebus_leases SET attempt = $4, token = $5, deadline = $6, held = true WHERE subscription = $1 AND partition = $2 AND "offset" = $3`,
              [subscription, partition, offset, attempt, token, deadline],
            );
            bytes += event.data.byteLength;
            leases.push({ event, attempt, token, deadline });
          }
        }
        const room = max - leases.length;
        if (room <= 0) return leases;
        const fresh = (
          await c.query(
            `SELECT "offset", publish_time, key, data FROM cebus_events WHERE topic = $1 AND partition = $2 AND "offset" >= $3 ORDER BY "offset" LIMIT $4`,
            [topic, partition, n(cursorRow.offset), room],
          )
        ).rows as Row[];
        if (fresh.length === 0) return leases;
        const busy = new Set<string>();
        if (ordered && !autoAck) {
          const keys = [
            ...new Set(fresh.map((r) => r.key).filter((k): k is string => typeof k === "string")),
          ];
          if (keys.length > 0) {
            const rows = (
              await c.query(
                "SELECT DISTINCT key FROM cebus_leases WHERE subscription = $1 AND partition = $2 AND key = ANY($3::text[])",
                [subscription, partition, keys],
              )
            ).rows as Row[];
            for (const r of rows) busy.add(r.key as string);
          }
        }
        const ins = {
          offset: [] as number[],
          attempt: [] as number[],
          token: [] as string[],
          deadline: [] as number[],
          held: [] as boolean[],
          key: [] as (string | null)[],
        };
        let cursor = n(cursorRow.offset);
        for (const row of fresh) {
          const event = toEvent(partition, row);
          if (ordered && !autoAck && event.key !== undefined && busy.has(event.key)) {
            ins.offset.push(event.offset);
            ins.attempt.push(0);
            ins.token.push("");
            ins.deadline.push(0);
            ins.held.push(false);
            ins.key.push(event.key);
            cursor = event.offset + 1;
            continue;
          }
          if (!fits(event.data.byteLength)) break;
          if (!autoAck) {
            ins.offset.push(event.offset);
            ins.attempt.push(1);
            ins.token.push(token);
            ins.deadline.push(deadline);
            ins.held.push(true);
            ins.key.push(event.key ?? null);
            if (ordered && event.key !== undefined) busy.add(event.key);
          }
          bytes += event.data.byteLength;
          leases.push({ event, attempt: 1, token, deadline: autoAck ? 0 : deadline });
          cursor = event.offset + 1;
        }
        if (ins.offset.length > 0) {
          await c.query(
            `INSERT INTO cebus_leases (subscription, partition, "offset", attempt, token, deadline, held, key)
               SELECT $1, $2, o, a, t, d, h, k FROM unnest($3::bigint[], $4::int[], $5::text[], $6::bigint[], $7::boolean[], $8::text[]) AS x(o, a, t, d, h, k)
               ON CONFLICT (subscription, partition, "offset") DO UPDATE SET attempt = EXCLUDED.attempt, token = EXCLUDED.token,
                 deadline = EXCLUDED.deadline, held = EXCLUDED.held, key = EXCLUDED.key`,
            [subscription, partition, ins.offset, ins.attempt, ins.token, ins.deadline, ins.held, ins.key],
          );
        }
        await c.query(`UPDATE cebus_cursors SET "offset" = $3 WHERE subscription = $1 AND partition = $2`, [
          subscription,
          partition,
          cursor,
        ]);
        return leases;
      });
    },

    async settle({ subscription }: SubscriptionRef, action: SettleAction): Promise<boolean[]> {
      if (action.leases.length === 0) return [];
      return tx(async (c) => {
        const rows = (
          await c.query(
            `SELECT l.partition, l."offset", l.token, l.deadline, l.held FROM cebus_leases l
               JOIN unnest($2::int[], $3::bigint[]) AS r(p, o) ON l.partition = r.p AND l."offset" = r.o
              WHERE l.subscription = $1 FOR UPDATE`,
            [subscription, action.leases.map((l) => l.partition), action.leases.map((l) => l.offset)],
          )
        ).rows as Row[];
        const found = new Map(rows.map((r) => [`${r.partition}.${r.offset}`, r]));
        const matches = action.leases.map((ref) => {
          const row = found.get(`${ref.partition}.${ref.offset}`);
          return (
            row !== undefined && row.token === ref.token && row.held === true && n(row.deadline) > action.now
          );
        });
        if (action.allOrNothing && matches.some((m) => !m)) return matches;
        const hit = action.leases.filter((_, i) => matches[i]);
        if (hit.length === 0) return matches;
        const ps = hit.map((l) => l.partition);
        const os = hit.map((l) => l.offset);
        if (action.kind === "ack" || action.kind === "term") {
          await c.query(
            `DELETE FROM cebus_leases l USING unnest($2::int[], $3::bigint[]) AS r(p, o)
              WHERE l.subscription = $1 AND l.partition = r.p AND l."offset" = r.o`,
            [subscription, ps, os],
          );
        } else {
          await c.query(
            `UPDATE cebus_leases l SET deadline = $4, held = CASE WHEN $5 THEN false ELSE l.held END
               FROM unnest($2::int[], $3::bigint[]) AS r(p, o)
              WHERE l.subscription = $1 AND l.partition = r.p AND l."offset" = r.o`,
            [subscription, ps, os, action.until ?? action.now, action.kind === "nack"],
          );
          if (action.kind === "nack") {
            const [sub] = (
              await c.query("SELECT topic FROM cebus_subscriptions WHERE name = $1", [subscription])
            ).rows as Row[];
            if (sub)
              await notify(c, { topic: sub.topic as string, subscription, at: action.until ?? action.now });
          }
        }
        return matches;
      });
    },

    async subscriptionStats(subscription, now): Promise<SubscriptionCounts> {
      const [sub] = await query("SELECT topic FROM cebus_subscriptions WHERE name = $1", [subscription]);
      if (!sub) return { backlog: 0, inFlight: 0, oldestUnackedPublishTime: undefined };
      const topic = sub.topic as string;
      // the backlog rule of @cebus/store (backlog.ts): a waiting lease counts while its event is still stored
      const [leases] = await query(
        `SELECT count(*) FILTER (WHERE held AND deadline > $2) AS in_flight,
           count(*) FILTER (WHERE NOT (held AND deadline > $2) AND EXISTS (SELECT 1 FROM cebus_events e
             WHERE e.topic = $3 AND e.partition = l.partition AND e."offset" = l."offset")) AS waiting,
           (SELECT min(e.publish_time) FROM cebus_leases o JOIN cebus_events e
              ON e.topic = $3 AND e.partition = o.partition AND e."offset" = o."offset" WHERE o.subscription = $1) AS oldest
         FROM cebus_leases l WHERE subscription = $1`,
        [subscription, now, topic],
      );
      const inFlight = n(leases?.in_flight ?? 0);
      let backlog = n(leases?.waiting ?? 0);
      let oldest = leases?.oldest === null || leases?.oldest === undefined ? undefined : n(leases.oldest);
      const cursors = await query(
        `SELECT c.partition, c."offset", p.start_offset, p.next_offset,
           (SELECT publish_time FROM cebus_events e WHERE e.topic = $2 AND e.partition = c.partition AND e."offset" >= c."offset" ORDER BY e."offset" LIMIT 1) AS first
           FROM cebus_cursors c JOIN cebus_partitions p ON p.topic = $2 AND p.partition = c.partition WHERE c.subscription = $1`,
        [subscription, topic],
      );
      for (const c of cursors) {
        const unread = unreadRetained(n(c.offset), {
          startOffset: n(c.start_offset),
          endOffset: n(c.next_offset),
        });
        if (unread === 0) continue;
        backlog += unread;
        if (c.first !== null) oldest = Math.min(oldest ?? Number.POSITIVE_INFINITY, n(c.first));
      }
      return { backlog, inFlight, oldestUnackedPublishTime: oldest };
    },

    async requeue({ subscription }, refs, now) {
      return tx(async (c) => {
        const [sub] = (await c.query("SELECT topic FROM cebus_subscriptions WHERE name = $1", [subscription]))
          .rows as Row[];
        if (!sub) throw subscriptionMissing(subscription);
        const result = await c.query(
          `INSERT INTO cebus_leases (subscription, partition, "offset", attempt, token, deadline, held, key)
             SELECT $1, e.partition, e."offset", 0, '', $3, false, e.key
               FROM unnest($4::int[], $5::bigint[]) AS r(p, o)
               JOIN cebus_events e ON e.topic = $2 AND e.partition = r.p AND e."offset" = r.o
           ON CONFLICT DO NOTHING`,
          [subscription, sub.topic, now, refs.map((r) => r.partition), refs.map((r) => r.offset)],
        );
        const count = result.rowCount ?? 0;
        if (count > 0) await notify(c, { topic: sub.topic as string, subscription, at: now });
        return count;
      });
    },

    async trim(topic, { olderThan, maxBytes, dedupeBefore }) {
      return tx(async (c) => {
        let removed = 0;
        const parts = (
          await c.query(
            "SELECT partition, next_offset FROM cebus_partitions WHERE topic = $1 ORDER BY partition FOR UPDATE",
            [topic],
          )
        ).rows as Row[];
        for (const p of parts) {
          const partition = n(p.partition);
          removed +=
            (
              await c.query(
                "DELETE FROM cebus_events WHERE topic = $1 AND partition = $2 AND publish_time < $3",
                [topic, partition, olderThan],
              )
            ).rowCount ?? 0;
          if (maxBytes > 0) {
            removed +=
              (
                await c.query(
                  `DELETE FROM cebus_events WHERE topic = $1 AND partition = $2 AND "offset" <= (
                     SELECT coalesce(max("offset"), -1) FROM (
                       SELECT "offset", sum(length(data)) OVER (ORDER BY "offset" DESC) AS newer
                         FROM cebus_events WHERE topic = $1 AND partition = $2) s WHERE newer > $3)`,
                  [topic, partition, maxBytes],
                )
              ).rowCount ?? 0;
          }
          await c.query(
            `UPDATE cebus_partitions p SET start_offset = coalesce(s.first, p.next_offset), event_count = s.n, bytes = s.b
               FROM (SELECT min("offset") AS first, count(*) AS n, coalesce(sum(length(data)), 0) AS b
                       FROM cebus_events WHERE topic = $1 AND partition = $2) s
              WHERE p.topic = $1 AND p.partition = $2`,
            [topic, partition],
          );
        }
        await c.query("DELETE FROM cebus_dedupe WHERE topic = $1 AND time < $2", [topic, dedupeBefore]);
        return removed;
      });
    },

    watch(listener) {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },

    healthy: () => healthy,

    async close() {
      if (relayTimer) clearInterval(relayTimer);
      await relaying;
      closed = true;
      const l = listener;
      listener = undefined;
      l?.release(true);
      await pool.end();
    },
  };
  let relaying: Promise<unknown> = Promise.resolve();
  const relayTimer = options.relayOutboxEveryMs
    ? setInterval(() => {
        relaying = relaying.then(() => relayOutbox(pool, appendIn, Date.now).catch(() => 0));
      }, options.relayOutboxEveryMs)
    : undefined;
  relayTimer?.unref?.();
  return store;
}
