export {
  type Broker,
  type BrokerOptions,
  type ConsumerRequest,
  type SettleKind,
  type SettleOptions,
  type SettleOutcome,
  createBroker,
} from "./broker.js";
export type { Consumer, FlowWindow } from "./consumer.js";
export { type BrokerLimits, defaultLimits } from "./defaults.js";
export { retryDelay } from "./backoff.js";
export { type Logger, silentLogger } from "./logger.js";
