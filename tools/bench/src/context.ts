import type { BrokerProcess } from "@cebus/testing";

export interface BenchContext {
  /** The broker under test (its own process). */
  broker: BrokerProcess;
  /** The store it runs on, as given to `cebus serve --store`. */
  store: string;
  quick: boolean;
}

/** A 256-byte payload, the size every scenario publishes. */
export const payload = "x".repeat(256);

/** Broker CPU (% of one core) and peak RSS between two samples. */
export { sampleProcess } from "./measure.js";
