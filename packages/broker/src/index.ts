export {
  type Broker,
  type BrokerOptions,
  type ConsumerRequest,
  createBroker,
  type SettleKind,
  type SettleOptions,
  type SettleOutcome,
} from "./broker.js";
export type { Consumer, FlowWindow } from "./consumer.js";
export { type BrokerLimits, defaultLimits } from "./defaults.js";
export { eventOf, withDecodedEvent } from "./delivery-event.js";
export { type Logger, silentLogger } from "./logger.js";
