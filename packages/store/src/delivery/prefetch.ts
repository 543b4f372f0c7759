import type { StoredEvent } from "../store.js";
import type { EventReader } from "./events.js";

/** A partition's log kept remotely (PostgreSQL, Redis, NATS): the two reads the rules make, asynchronous. */
export interface RemoteEvents {
  /** The retained events at these offsets, in any order; offsets not retained are left out. */
  at(offsets: readonly number[]): Promise<StoredEvent[]>;
  /** Up to `limit` retained events from `offset` on, in offset order. */
  from(offset: number, limit: number): Promise<StoredEvent[]>;
  /** When known: offsets below it are not retained (read nothing for them). */
  startOffset?: number | undefined;
}

/** Rounds that answer a missed `at` with a stand-in; later rounds answer nothing, so one round reads the rest. */
const standInRounds = 2;
/** Rounds of reads before giving up (a log that keeps changing under the reads). */
const maxRounds = 8;

/**
 * Runs a synchronous rule over a remote log: runs it over what was read so far, reads what it missed, and runs it
 * again until a run misses nothing; that run's result is returned, computed from real events only. A missed
 * `at` answers a stand-in event of size 0 so the run goes on to what it would read next (at most the claim's
 * `max` stand-ins), a missed `from` answers nothing. When stand-ins keep turning out to be removed events, a
 * later round answers missed `at`s with nothing, so the run names every event it could want and one read gets
 * them all. Rules never change their input, so running again is safe.
 */
export async function withRemoteEvents<T>(remote: RemoteEvents, run: (events: EventReader) => T): Promise<T> {
  const cache = createEventCache();
  for (let round = 0; round < maxRounds; round++) {
    const misses: Misses = { offsets: new Set(), scans: [] };
    const result = run(cachedReader(cache, misses, round < standInRounds, remote.startOffset));
    if (misses.offsets.size === 0 && misses.scans.length === 0) return result;
    await readMisses(remote, cache, misses);
  }
  throw new Error(`delivery rules still missed events after ${maxRounds} rounds of reads`);
}

/** What has been read: single events (null: not retained) and scans from an offset. */
interface EventCache {
  byOffset: Map<number, StoredEvent | null>;
  scans: Map<number, Scan>;
}

/** `from(offset, limit)` as read: fewer events than the limit means the scan reached the end of the log. */
interface Scan {
  limit: number;
  events: StoredEvent[];
}

interface Misses {
  offsets: Set<number>;
  scans: { offset: number; limit: number }[];
}

function createEventCache(): EventCache {
  return { byOffset: new Map(), scans: new Map() };
}

function cachedReader(
  cache: EventCache,
  misses: Misses,
  standIns: boolean,
  startOffset: number | undefined,
): EventReader {
  return {
    at(offset) {
      if (startOffset !== undefined && offset < startOffset) return undefined;
      const known = knownAt(cache, offset);
      if (known !== undefined) return known ?? undefined;
      misses.offsets.add(offset);
      return standIns ? standIn(offset) : undefined;
    },
    from(offset, limit) {
      const scan = cache.scans.get(offset);
      if (scan && (scan.limit >= limit || scan.events.length < scan.limit))
        return scan.events.slice(0, limit);
      misses.scans.push({ offset, limit });
      return [];
    },
  };
}

/** The event at `offset` when known (null: known not retained), undefined when it has to be read. */
function knownAt(cache: EventCache, offset: number): StoredEvent | null | undefined {
  const single = cache.byOffset.get(offset);
  if (single !== undefined) return single;
  for (const [start, scan] of cache.scans) {
    const last = scan.events.at(-1);
    const complete = scan.events.length < scan.limit;
    if (offset < start || (!complete && (last === undefined || offset > last.offset))) continue;
    return scan.events.find((event) => event.offset === offset) ?? null;
  }
  return undefined;
}

function standIn(offset: number): StoredEvent {
  return { partition: -1, offset, publishTime: 0, key: undefined, data: new Uint8Array(0) };
}

async function readMisses(remote: RemoteEvents, cache: EventCache, misses: Misses): Promise<void> {
  const offsets = [...misses.offsets];
  const [found, scans] = await Promise.all([
    offsets.length > 0 ? remote.at(offsets) : Promise.resolve([]),
    Promise.all(misses.scans.map((scan) => remote.from(scan.offset, scan.limit))),
  ]);
  for (const offset of offsets) cache.byOffset.set(offset, null);
  for (const event of found) cache.byOffset.set(event.offset, event);
  misses.scans.forEach((scan, index) => {
    cache.scans.set(scan.offset, { limit: scan.limit, events: scans[index] ?? [] });
  });
}
