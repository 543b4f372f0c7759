import type { SQLInputValue, StatementSync } from "node:sqlite";
import { type SubscriptionCounts, unreadRetained } from "@cebus/store";

type Row = Record<string, SQLInputValue>;
type Sql = (text: string) => StatementSync;

/**
 * A subscription's counts (`Store.subscriptionStats`), by the backlog rule of `@cebus/store` (backlog.ts): leases
 * that wait count while their event is still stored; events past the cursor count from the partition's start
 * offset when retention removed some the cursor had not reached.
 */
export function subscriptionCounts(sql: Sql, subscription: string, now: number): SubscriptionCounts {
  const sub = sql("SELECT topic FROM subscriptions WHERE name = ?").get(subscription) as Row | undefined;
  if (!sub) return { backlog: 0, inFlight: 0, oldestUnackedPublishTime: undefined };
  const topic = sub.topic as string;
  const leases = sql(
    `SELECT sum(held = 1 AND deadline > ?) AS in_flight,
       sum(NOT (held = 1 AND deadline > ?) AND EXISTS (SELECT 1 FROM events e
         WHERE e.topic = ? AND e.partition = l.partition AND e.offset = l.offset)) AS waiting,
       (SELECT min(e.publish_time) FROM leases o JOIN events e
          ON e.topic = ? AND e.partition = o.partition AND e.offset = o.offset WHERE o.subscription = ?) AS oldest
     FROM leases l WHERE subscription = ?`,
  ).get(now, now, topic, topic, subscription, subscription) as Row;
  const inFlight = Number(leases.in_flight ?? 0);
  let backlog = Number(leases.waiting ?? 0);
  let oldest = leases.oldest === null ? undefined : Number(leases.oldest);
  const cursors = sql(
    `SELECT c.partition, c.offset, p.start_offset, p.next_offset FROM cursors c JOIN partitions p
       ON p.topic = ? AND p.partition = c.partition WHERE c.subscription = ?`,
  ).all(topic, subscription) as Row[];
  const firstAt = sql(
    "SELECT publish_time FROM events WHERE topic = ? AND partition = ? AND offset >= ? ORDER BY offset LIMIT 1",
  );
  for (const c of cursors) {
    const unread = unreadRetained(Number(c.offset), {
      startOffset: Number(c.start_offset),
      endOffset: Number(c.next_offset),
    });
    if (unread === 0) continue;
    backlog += unread;
    const first = firstAt.get(topic, Number(c.partition), Number(c.offset)) as Row | undefined;
    if (first) oldest = Math.min(oldest ?? Number.POSITIVE_INFINITY, Number(first.publish_time));
  }
  return { backlog, inFlight, oldestUnackedPublishTime: oldest };
}
