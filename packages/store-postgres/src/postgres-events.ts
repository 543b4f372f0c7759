import type { StoredEvent } from "@cebus/store";
import type { RemoteEvents } from "@cebus/store/delivery";
import type { ClientBase } from "pg";
import { n, type Row } from "./postgres-client.js";
import { toEvent } from "./postgres-log.js";

/**
 * How the delivery rules read a partition's log on PostgreSQL (`withRemoteEvents` from `@cebus/store/delivery`):
 * `at` is one query for all the offsets a run missed, `from` one query per scan. Counts and retention need no event
 * data (only existence, publish time and key), so their reads leave `data` out; they also read ahead for every
 * partition at once (`prefetchExisting`), and the rules' reads are then answered from what was read.
 */

/** Runs a statement: inside a transaction (a client) or on the pool. */
export type Query = (text: string, values: unknown[]) => Promise<Row[]>;

export const queryOn =
  (client: ClientBase): Query =>
  async (text, values) =>
    (await client.query(text, values)).rows as Row[];

export interface LogPartition {
  topic: string;
  partition: number;
  /** Offsets below it are not retained. */
  startOffset?: number | undefined;
}

/** Read with the event data (claims), or without (counts, retention: `data` is empty). */
const columns = (data: boolean) => `"offset", publish_time, key${data ? ", data" : ""}`;

export function remoteEvents(query: Query, log: LogPartition, data: boolean): RemoteEvents {
  const { topic, partition } = log;
  return {
    startOffset: log.startOffset,
    at: async (offsets) =>
      (
        await query(
          `SELECT ${columns(data)} FROM cebus_events WHERE topic = $1 AND partition = $2 AND "offset" = ANY($3::bigint[])`,
          [topic, partition, offsets],
        )
      ).map((r) => toEvent(partition, r)),
    from: async (offset, limit) =>
      (
        await query(
          `SELECT ${columns(data)} FROM cebus_events WHERE topic = $1 AND partition = $2 AND "offset" >= $3 ORDER BY "offset" LIMIT $4`,
          [topic, partition, offset, limit],
        )
      ).map((r) => toEvent(partition, r)),
  };
}

/** What was read ahead for one partition: the events at some offsets, and first events from some offsets. */
export interface ReadAhead {
  /** Offsets read: those missing from `events` are not retained. */
  offsets: Set<number>;
  events: Map<number, StoredEvent>;
  /** `from(offset, 1)` as read. */
  firsts: Map<number, StoredEvent | undefined>;
}

export function emptyReadAhead(): ReadAhead {
  return { offsets: new Set(), events: new Map(), firsts: new Map() };
}

/** `remote`, answering from `ahead` what was read ahead and asking `remote` for the rest. */
export function withReadAhead(remote: RemoteEvents, ahead: ReadAhead): RemoteEvents {
  return {
    startOffset: remote.startOffset,
    async at(offsets) {
      const rest = offsets.filter((offset) => !ahead.offsets.has(offset));
      const known = offsets.flatMap((offset) => {
        const event = ahead.events.get(offset);
        return event ? [event] : [];
      });
      return rest.length === 0 ? known : [...known, ...(await remote.at(rest))];
    },
    async from(offset, limit) {
      if (limit === 1 && ahead.firsts.has(offset)) {
        const first = ahead.firsts.get(offset);
        return first ? [first] : [];
      }
      return remote.from(offset, limit);
    },
  };
}

/** One partition's reads ahead: the events at `offsets`, and the first retained event from `firstFrom`. */
export interface ReadAheadRequest {
  partition: number;
  offsets: readonly number[];
  firstFrom?: number | undefined;
}

/**
 * Reads ahead, without event data, for several partitions of a topic in one query: whether the events at the given
 * offsets are retained (with publish time and key), and the first retained event from an offset.
 */
export async function readAhead(
  query: Query,
  topic: string,
  requests: readonly ReadAheadRequest[],
): Promise<Map<number, ReadAhead>> {
  const ahead = new Map(requests.map((r) => [r.partition, emptyReadAhead()]));
  const pairs = requests.flatMap((r) => r.offsets.map((offset) => [r.partition, offset] as const));
  const firsts = requests.flatMap((r) =>
    r.firstFrom === undefined ? [] : [[r.partition, r.firstFrom] as const],
  );
  if (pairs.length === 0 && firsts.length === 0) return ahead;
  const rows = await query(
    `SELECT 'at' AS kind, e.partition, e."offset", e.publish_time, e.key, NULL::bigint AS start
       FROM unnest($2::int[], $3::bigint[]) AS r(p, o)
       JOIN cebus_events e ON e.topic = $1 AND e.partition = r.p AND e."offset" = r.o
     UNION ALL
     SELECT 'first', f.p, e."offset", e.publish_time, e.key, f.o
       FROM unnest($4::int[], $5::bigint[]) AS f(p, o)
       LEFT JOIN LATERAL (SELECT "offset", publish_time, key FROM cebus_events
                           WHERE topic = $1 AND partition = f.p AND "offset" >= f.o ORDER BY "offset" LIMIT 1) e ON true`,
    [topic, pairs.map((p) => p[0]), pairs.map((p) => p[1]), firsts.map((f) => f[0]), firsts.map((f) => f[1])],
  );
  for (const [partition, offset] of pairs) ahead.get(partition)?.offsets.add(offset);
  for (const row of rows) recordRow(ahead, row);
  return ahead;
}

function recordRow(ahead: Map<number, ReadAhead>, row: Row): void {
  const partition = n(row.partition);
  const into = ahead.get(partition);
  if (!into) return;
  const event = row.offset === null ? undefined : toEvent(partition, row);
  if (row.kind === "at" && event) into.events.set(event.offset, event);
  else if (row.kind === "first") into.firsts.set(n(row.start), event);
}
