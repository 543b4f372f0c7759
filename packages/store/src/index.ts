export type {
  AppendEvent,
  AppendOptions,
  AppendResult,
  ClaimRequest,
  Lease,
  LeaseRef,
  PartitionInfo,
  SettleAction,
  Store,
  StoredEvent,
  SubscriptionCounts,
} from "./store.js";
