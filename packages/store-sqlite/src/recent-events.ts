import type { StoredEvent } from "@cebus/store";

/**
 * The newest events of each partition, kept in memory as they are appended, so that consumers that keep up (the
 * common case) claim them without reading the rows back. Only the tail is kept: a partition's entry always ends at
 * the partition's last offset, and a read that starts before it goes to the database. The database is owned by this
 * one process, so every append passes here; a rollback, a trim or a topic's deletion drops what may have changed.
 *
 * Bounded: at most `perPartition` events per partition, and when all partitions together hold more than
 * `maxBytes`, everything is dropped (a crude bound, reached only with very many busy partitions).
 */
export interface RecentEvents {
  /** Events appended to a partition, in offset order, right after its previous tail. */
  appended(topic: string, partition: number, events: StoredEvent[]): void;
  /** Up to `limit` events from `offset` on, or undefined when the tail does not start at or before `offset`. */
  from(topic: string, partition: number, offset: number, limit: number): StoredEvent[] | undefined;
  /** The event at `offset` when the tail holds it; undefined when it does not (ask the database). */
  at(topic: string, partition: number, offset: number): StoredEvent | undefined;
  forgetTopic(topic: string): void;
  clear(): void;
}

interface Tail {
  events: StoredEvent[];
  bytes: number;
}

export function createRecentEvents(perPartition = 4096, maxBytes = 64 * 1024 * 1024): RecentEvents {
  const tails = new Map<string, Tail>();
  let totalBytes = 0;
  const keyOf = (topic: string, partition: number) => `${partition}\n${topic}`;
  const window = (tail: Tail | undefined, offset: number): number | undefined => {
    const first = tail?.events[0];
    if (!tail || !first || offset < first.offset) return undefined;
    return offset - first.offset;
  };
  return {
    appended(topic, partition, events) {
      const key = keyOf(topic, partition);
      let tail = tails.get(key);
      const last = tail?.events[tail.events.length - 1];
      if (!tail || (last && events[0] && events[0].offset !== last.offset + 1)) {
        if (tail) totalBytes -= tail.bytes;
        tail = { events: [], bytes: 0 };
        tails.set(key, tail);
      }
      for (const event of events) {
        tail.events.push(event);
        tail.bytes += event.data.byteLength;
        totalBytes += event.data.byteLength;
      }
      const excess = tail.events.length - perPartition;
      if (excess > 0) {
        for (const dropped of tail.events.splice(0, excess)) {
          tail.bytes -= dropped.data.byteLength;
          totalBytes -= dropped.data.byteLength;
        }
      }
      if (totalBytes > maxBytes) {
        tails.clear();
        totalBytes = 0;
      }
    },
    from(topic, partition, offset, limit) {
      const tail = tails.get(keyOf(topic, partition));
      const start = window(tail, offset);
      if (start === undefined || !tail) return undefined;
      return tail.events.slice(start, start + limit);
    },
    at(topic, partition, offset) {
      const tail = tails.get(keyOf(topic, partition));
      const index = window(tail, offset);
      return index === undefined ? undefined : tail?.events[index];
    },
    forgetTopic(topic) {
      for (const [key, tail] of tails) {
        if (key.slice(key.indexOf("\n") + 1) !== topic) continue;
        totalBytes -= tail.bytes;
        tails.delete(key);
      }
    },
    clear() {
      tails.clear();
      totalBytes = 0;
    },
  };
}
