export { type ClaimInput, type ClaimOutcome, claim, claimResult, filteredReadWindow } from "./claim.js";
export { decodeState, encodeState, stateCodecVersion } from "./codec.js";
export { partitionCounts, type RetainedRange, sumCounts } from "./counts.js";
export type { EventReader } from "./events.js";
export { claimInput, storedEventFilter } from "./filter.js";
export { type RemoteEvents, withRemoteEvents } from "./prefetch.js";
export { type RequeueOutcome, requeue } from "./requeue.js";
export { dropRemoved } from "./retention.js";
export {
  backoffDelay,
  jitterUnit,
  type RetryKey,
  type RetrySchedule,
  retryBand,
  retryDelay,
  retrySchedule,
} from "./retry.js";
export { dropLeases, seek, seekPartition } from "./seek.js";
export {
  applySettle,
  byPartition,
  type LeaseHandle,
  leaseMatches,
  maxWakeInstants,
  nackUntil,
  partitionsOf,
  type SettleInput,
  type SettleOutcome,
  type SubscriptionSettleOutcome,
  settle,
  settleAcross,
} from "./settle.js";
export {
  busyKeys,
  type DeliveryLease,
  initialState,
  isHeldAt,
  leaseAt,
  leaseIndex,
  mergeLeases,
  type PartitionDeliveryState,
} from "./state.js";
export { type ExpiryPolicy, visibleAt } from "./visibility.js";
