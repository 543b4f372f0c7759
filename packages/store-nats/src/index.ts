export { type NatsConnectOptions, openNatsStore } from "./connect.js";
export { createNatsStore, type NatsStoreOptions } from "./nats-store.js";
