export { type AsyncQueue, createAsyncQueue } from "./async-queue.js";
export { durationMs, msToDuration, msToTimestamp, parseDuration, timestampMs } from "./duration.js";
export {
  CebusError,
  type CebusErrorOptions,
  type ErrorCode,
  errorCodeOfGrpc,
  errorCodes,
  errorInfoOf,
  grpcCodeOf,
  isErrorCode,
  isPermanent,
  optionsOfErrorInfo,
  permanentCodes,
} from "./errors.js";
export {
  attributeString,
  attributeValueString,
  partitionKey,
  SPEC_VERSION,
  stringAttribute,
  validateEvent,
} from "./event.js";
export {
  type CloudEventJson,
  type EventInput,
  eventData,
  fromCloudEventJson,
  toCloudEvent,
  toCloudEventJson,
} from "./event-json.js";
export { compileFilter, type EventPredicate } from "./filter.js";
export { validateName } from "./names.js";
export { partitionForKey } from "./partition.js";
