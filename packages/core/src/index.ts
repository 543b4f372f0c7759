export { CebusError, type CebusErrorOptions, type ErrorCode, errorCodes, isErrorCode } from "./errors.js";
export { durationMs, msToDuration, msToTimestamp, parseDuration, timestampMs } from "./duration.js";
export {
  SPEC_VERSION,
  attributeString,
  attributeValueString,
  partitionKey,
  stringAttribute,
  validateEvent,
} from "./event.js";
export { type EventPredicate, compileFilter } from "./filter.js";
export { validateName } from "./names.js";
export { partitionForKey } from "./partition.js";
export { type AsyncQueue, createAsyncQueue } from "./async-queue.js";
