import { CebusError } from "@cebus/core";
import type { Topic } from "@cebus/proto";
import type { EventReader } from "../delivery/events.js";
import type { AppendEvent, AppendOptions, AppendResult, PartitionInfo, StoredEvent } from "../store.js";

/** One partition of a topic held in memory: the retained events, from `startOffset` on. */
export interface PartitionLog {
  /** events[i] has offset startOffset + i. */
  events: StoredEvent[];
  startOffset: number;
  bytes: number;
}

/** A topic held in memory: its partitions and the dedupe window. */
export interface TopicLog {
  topic: Topic;
  partitions: PartitionLog[];
  /** `source \n id` -> where it was stored and when. */
  dedupe: Map<string, { partition: number; offset: number; time: number }>;
}

export function createTopicLog(topic: Topic): TopicLog {
  const partitions = Array.from({ length: Math.max(1, topic.partitions) }, () => ({
    events: [],
    startOffset: 0,
    bytes: 0,
  }));
  return { topic, partitions, dedupe: new Map() };
}

export function endOffset(partition: PartitionLog): number {
  return partition.startOffset + partition.events.length;
}

export function partitionInfo(log: TopicLog): PartitionInfo[] {
  return log.partitions.map((p, partition) => ({
    partition,
    startOffset: p.startOffset,
    endOffset: endOffset(p),
    eventCount: p.events.length,
    bytes: p.bytes,
  }));
}

/** Appends atomically (Store.append): the partitions are checked before anything is stored. */
export function appendEvents(log: TopicLog, events: AppendEvent[], options: AppendOptions): AppendResult[] {
  events.forEach((event, i) => {
    if (!Number.isInteger(event.partition) || !log.partitions[event.partition]) {
      throw new CebusError(
        "invalid_argument",
        `events[${i}] targets partition ${event.partition} but topic '${log.topic.name}' has ${log.partitions.length}`,
      );
    }
  });
  const dedupe = options.dedupeSince <= options.now;
  return events.map((event) => {
    const id = `${event.source}\n${event.id}`;
    const seen = dedupe ? log.dedupe.get(id) : undefined;
    if (seen && seen.time >= options.dedupeSince) {
      return { partition: seen.partition, offset: seen.offset, duplicate: true };
    }
    const offset = store(log, event, options.now);
    if (dedupe) log.dedupe.set(id, { partition: event.partition, offset, time: options.now });
    return { partition: event.partition, offset, duplicate: false };
  });
}

function store(log: TopicLog, event: AppendEvent, now: number): number {
  const partition = log.partitions[event.partition] as PartitionLog;
  const offset = endOffset(partition);
  const data = event.data.slice();
  partition.events.push({ partition: event.partition, offset, publishTime: now, key: event.key, data });
  partition.bytes += data.byteLength;
  return offset;
}

/** The partition's log as the delivery rules read it. */
export function eventReader(partition: PartitionLog): EventReader {
  return {
    at: (offset) => partition.events[offset - partition.startOffset],
    from: (offset, limit) => readFrom(partition, offset, limit),
  };
}

export function readFrom(partition: PartitionLog, fromOffset: number, limit: number): StoredEvent[] {
  const first = Math.max(0, fromOffset - partition.startOffset);
  return partition.events.slice(first, first + Math.max(0, limit));
}

/** The first offset stored at or after `time` (end offset when none); publish times grow with offsets. */
export function offsetAtTime(partition: PartitionLog, time: number): number {
  const found = partition.events.find((event) => event.publishTime >= time);
  return found ? found.offset : endOffset(partition);
}

/**
 * Retention (Store.trim): removes events published before `olderThan`, then the oldest while a partition holds
 * more than `maxBytes` (0 = no cap), and dedupe entries recorded before `dedupeBefore`. Returns events removed.
 */
export function trimLog(
  log: TopicLog,
  options: { olderThan: number; maxBytes: number; dedupeBefore: number },
): number {
  let removed = 0;
  for (const partition of log.partitions) {
    let cut = 0;
    let bytes = partition.bytes;
    for (const event of partition.events) {
      const tooOld = event.publishTime < options.olderThan;
      if (!tooOld && !(options.maxBytes > 0 && bytes > options.maxBytes)) break;
      bytes -= event.data.byteLength;
      cut++;
    }
    partition.events.splice(0, cut);
    partition.startOffset += cut;
    partition.bytes = bytes;
    removed += cut;
  }
  for (const [id, entry] of log.dedupe) if (entry.time < options.dedupeBefore) log.dedupe.delete(id);
  return removed;
}
