export { isInFlight, unreadRetained, waitsInBacklog } from "./backlog.js";
export type { RetrySchedule } from "./delivery/retry.js";
export type {
  AppendEvent,
  AppendOptions,
  AppendResult,
  ClaimRequest,
  ClaimResult,
  DeadLetterAppend,
  Lease,
  LeaseRef,
  NackBackoff,
  PartitionInfo,
  SettleAction,
  Store,
  StoreChange,
  StoredEvent,
  SubscriptionCounts,
  SubscriptionRef,
} from "./store.js";
