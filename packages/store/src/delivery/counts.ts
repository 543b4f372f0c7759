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
 * retained; the retained events at or past the cursor are backlog. The oldest unacked publish time is the least
 * over the retained leased events and the first retained event at or past the cursor. Publish times may go
 * backwards across broker processes sharing a backend, so every leased event is looked at, not only the first.
 */
export function partitionCounts(
  state: PartitionDeliveryState,
  log: RetainedRange,
  now: number,
  events: EventReader,
): SubscriptionCounts {
  let inFlight = 0;
  let waiting = 0;
  let oldest: number | undefined;
  const older = (time: number | undefined) => {
    if (time !== undefined && (oldest === undefined || time < oldest)) oldest = time;
  };
  for (const lease of state.leases) {
    const event = events.at(lease.offset);
    if (isHeldAt(lease, now)) inFlight++;
    else if (event) waiting++;
    older(event?.publishTime);
  }
  const unread = unreadRetained(state.cursor, log);
  if (unread > 0) older(events.from(Math.max(state.cursor, log.startOffset), 1)[0]?.publishTime);
  return { backlog: waiting + unread, inFlight, oldestUnackedPublishTime: oldest };
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
