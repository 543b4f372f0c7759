import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { attributeString, durationMs, partitionForKey, validateEvent } from "@cebus/core";
import { type CloudEvent, CloudEventSchema, TopicSchema } from "@cebus/proto";
import type { AppendEvent } from "@cebus/store";
import type pg from "pg";

/**
 * The transactional outbox, writer side: call it with the client of YOUR open transaction, next to your own
 * writes. When you COMMIT, the events are committed with them; Cebus then moves them into the topic exactly once.
 *
 *   await client.query("BEGIN");
 *   await client.query("INSERT INTO orders ...");
 *   await enqueueInOutbox(client, "orders", [{ ...a CloudEvent }]);
 *   await client.query("COMMIT");
 */
export async function enqueueInOutbox(
  client: pg.ClientBase,
  topic: string,
  events: CloudEvent[],
): Promise<void> {
  events.forEach((event, i) => {
    validateEvent(event, `events[${i}]`);
  });
  await client.query(
    "INSERT INTO cebus_outbox (topic, event) SELECT $1, e FROM unnest($2::bytea[]) WITH ORDINALITY AS t(e, i) ORDER BY i",
    [topic, events.map((e) => Buffer.from(toBinary(CloudEventSchema, e)))],
  );
  await client.query("SELECT pg_notify('cebus_outbox', $1)", [topic]);
}

type AppendIn = (
  c: pg.ClientBase,
  topic: string,
  events: AppendEvent[],
  options: { now: number; dedupeSince: number },
) => Promise<unknown>;

const DEFAULT_DEDUPE_MS = 2 * 60 * 1000;

/**
 * The relay side, run by every broker on a timer: takes a batch of outbox rows (SKIP LOCKED, so brokers share the
 * work), appends them to their topics and deletes them, in ONE transaction: each event reaches its topic exactly
 * once. Rows for a topic that does not exist stay until it does. Returns how many events moved.
 */
export async function relayOutbox(
  pool: pg.Pool,
  appendIn: AppendIn,
  now: () => number,
  batch = 500,
): Promise<number> {
  const c = await pool.connect();
  // A connection that dies while checked out emits 'error' on the client: without a listener that kills the process.
  let broken: Error | undefined;
  const lost = (error: Error) => {
    broken = error;
  };
  c.on("error", lost);
  try {
    await c.query("BEGIN");
    const rows = (
      await c.query(
        `SELECT o.id, o.topic, o.event, t.config FROM cebus_outbox o JOIN cebus_topics t ON t.name = o.topic
          ORDER BY o.id LIMIT $1 FOR UPDATE OF o SKIP LOCKED`,
        [batch],
      )
    ).rows as { id: string; topic: string; event: Buffer; config: Buffer }[];
    const byTopic = new Map<string, typeof rows>();
    for (const row of rows) byTopic.set(row.topic, [...(byTopic.get(row.topic) ?? []), row]);
    for (const [topicName, list] of byTopic) {
      const topic = fromBinary(TopicSchema, list[0]?.config as Buffer);
      const partitions = Math.max(1, topic.partitions);
      const events = list.map((row): AppendEvent => {
        const event = fromBinary(CloudEventSchema, row.event);
        const key = attributeString(event, "partitionkey");
        return {
          partition: key === undefined ? Number(row.id) % partitions : partitionForKey(key, partitions),
          source: event.source,
          id: event.id,
          key,
          data: new Uint8Array(row.event),
        };
      });
      const at = now();
      await appendIn(c, topicName, events, {
        now: at,
        dedupeSince: at - durationMs(topic.dedupeWindow, DEFAULT_DEDUPE_MS),
      });
    }
    if (rows.length > 0)
      await c.query("DELETE FROM cebus_outbox WHERE id = ANY($1::bigint[])", [rows.map((r) => r.id)]);
    await c.query("COMMIT");
    return rows.length;
  } catch (error) {
    await c.query("ROLLBACK").catch(() => {});
    throw error;
  } finally {
    c.off("error", lost);
    c.release(broken); // a broken connection is closed, not returned to the pool
  }
}
