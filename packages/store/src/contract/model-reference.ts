import { claim, claimResult } from "../delivery/claim.js";
import { partitionCounts, sumCounts } from "../delivery/counts.js";
import type { EventReader } from "../delivery/events.js";
import { claimInput } from "../delivery/filter.js";
import { requeue } from "../delivery/requeue.js";
import { dropRemoved } from "../delivery/retention.js";
import { seek } from "../delivery/seek.js";
import { settleAcross } from "../delivery/settle.js";
import { initialState, type PartitionDeliveryState } from "../delivery/state.js";
import type {
  AppendEvent,
  AppendResult,
  ClaimRequest,
  ClaimResult,
  PartitionInfo,
  SettleAction,
  StoredEvent,
  SubscriptionCounts,
} from "../store.js";

/**
 * The model of the delivery model test: one subscription over one topic, decided by the delivery rules driven
 * directly, over the plainest log there is (every event ever appended, and the first one retained). No dedupe:
 * the test appends unique ids.
 */
export interface Reference {
  append(events: AppendEvent[], now: number): AppendResult[];
  claim(request: ClaimRequest): ClaimResult;
  settle(action: SettleAction): boolean[];
  requeue(refs: { partition: number; offset: number }[], now: number): number;
  seek(cursors: number[]): void;
  trim(olderThan: number, maxBytes: number): number;
  counts(now: number): SubscriptionCounts;
  partitionStats(): PartitionInfo[];
}

interface LogPartition {
  /** events[offset], including removed ones. */
  events: StoredEvent[];
  start: number;
}

export function createReference(partitions: number): Reference {
  const logs: LogPartition[] = Array.from({ length: partitions }, () => ({ events: [], start: 0 }));
  let states: PartitionDeliveryState[] = logs.map(() => initialState(0));
  const stateOf = (partition: number) => states[partition] as PartitionDeliveryState;
  const logOf = (partition: number) => logs[partition] as LogPartition;
  return {
    append: (events, now) => events.map((event) => appendOne(logOf(event.partition), event, now)),
    claim: (request) => {
      const outcome = claim(
        stateOf(request.partition),
        claimInput(request),
        reader(logOf(request.partition)),
      );
      states[request.partition] = outcome.state;
      return claimResult(outcome);
    },
    settle: (action) => {
      const outcome = settleAcross(stateOf, action);
      for (const [partition, state] of outcome.states) states[partition] = state;
      return outcome.matches;
    },
    requeue: (refs, now) => {
      let count = 0;
      states = states.map((state, partition) => {
        const offsets = refs.filter((ref) => ref.partition === partition).map((ref) => ref.offset);
        const outcome = requeue(state, offsets, now, reader(logOf(partition)));
        count += outcome.count;
        return outcome.state;
      });
      return count;
    },
    seek: (cursors) => {
      states = states.map((state, partition) => seek(state, cursors[partition] ?? state.cursor));
    },
    trim: (olderThan, maxBytes) => {
      const removed = logs.reduce((sum, log) => sum + trimOne(log, olderThan, maxBytes), 0);
      states = states.map((state, partition) => dropRemoved(state, reader(logOf(partition))));
      return removed;
    },
    counts: (now) =>
      sumCounts(
        logs.map((log, partition) =>
          partitionCounts(
            stateOf(partition),
            { startOffset: log.start, endOffset: log.events.length },
            now,
            reader(log),
          ),
        ),
      ),
    partitionStats: () => logs.map(statsOf),
  };
}

function appendOne(log: LogPartition, event: AppendEvent, now: number): AppendResult {
  const offset = log.events.length;
  log.events.push({ partition: event.partition, offset, publishTime: now, key: event.key, data: event.data });
  return { partition: event.partition, offset, duplicate: false };
}

function reader(log: LogPartition): EventReader {
  return {
    at: (offset) => (offset >= log.start ? log.events[offset] : undefined),
    from: (offset, limit) =>
      log.events.slice(Math.max(offset, log.start), Math.max(offset, log.start) + limit),
  };
}

/** Removes events published before `olderThan`, then the oldest while the partition holds more than maxBytes. */
function trimOne(log: LogPartition, olderThan: number, maxBytes: number): number {
  const before = log.start;
  let bytes = retainedBytes(log);
  for (const event of log.events.slice(log.start)) {
    if (event.publishTime >= olderThan && !(maxBytes > 0 && bytes > maxBytes)) break;
    bytes -= event.data.byteLength;
    log.start++;
  }
  return log.start - before;
}

function retainedBytes(log: LogPartition): number {
  return log.events.slice(log.start).reduce((sum, event) => sum + event.data.byteLength, 0);
}

function statsOf(log: LogPartition, partition: number): PartitionInfo {
  return {
    partition,
    startOffset: log.start,
    endOffset: log.events.length,
    eventCount: log.events.length - log.start,
    bytes: retainedBytes(log),
  };
}
