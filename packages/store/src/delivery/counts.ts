import { unreadRetained } from "../backlog.js";
import type { SubscriptionCounts } from "../store.js";
import type { EventReader } from "./events.js";
import { isHeldAt, type PartitionDeliveryState } from "./state.js";

/** The retained range of a partition's log. */
export interface RetainedRange {
  /** Offset of the oldest retained event (= endOffset when empty). */
  startOffset: number;
  /** Offset the next appended event gets. */
  endOffset: number;
}

/**
 * A subscription partition's counts (Store.subscriptionStats), by the backlog rule (backlog.ts): a lease a
 * consumer holds is in flight, even when retention removed its event; any other lease is backlog while its event is
 * retained; the retained events at or past the cursor are backlog. The oldest unacked event is the first retained
 * one that has a lease or is past the cursor (publish times grow with offsets).
 */
export function partitionCounts(
  state: PartitionDeliveryState,
  log: RetainedRange,
  now: number,
  events: EventReader,
): SubscriptionCounts {
  let inFlight = 0;
  let waiting = 0;
  let firstLeased: number | undefined;
  for (const lease of state.leases) {
    if (isHeldAt(lease, now)) inFlight++;
    else if (lease.offset >= log.startOffset) waiting++;
    if (lease.offset >= log.startOffset && firstLeased === undefined) firstLeased = lease.offset;
  }
  const unread = unreadRetained(state.cursor, log);
  const oldest = [
    firstLeased === undefined ? undefined : events.at(firstLeased)?.publishTime,
    unread === 0 ? undefined : events.from(Math.max(state.cursor, log.startOffset), 1)[0]?.publishTime,
  ].filter((time): time is number => time !== undefined);
  return {
    backlog: waiting + unread,
    inFlight,
    oldestUnackedPublishTime: oldest.length === 0 ? undefined : Math.min(...oldest),
  };
}

/** The counts of a whole subscription from those of its partitions. */
export function sumCounts(parts: readonly SubscriptionCounts[]): SubscriptionCounts {
  let oldest: number | undefined;
  let backlog = 0;
  let inFlight = 0;
  for (const part of parts) {
    backlog += part.backlog;
    inFlight += part.inFlight;
    const time = part.oldestUnackedPublishTime;
    if (time !== undefined && (oldest === undefined || time < oldest)) oldest = time;
  }
  return { backlog, inFlight, oldestUnackedPublishTime: oldest };
}
