import { describe } from "vitest";
import { describeAppend } from "./append.js";
import { describeDeadLetters } from "./dead-letter.js";
import { describeDelivery } from "./delivery.js";
import { describeDurability } from "./durability.js";
import type { StoreFactory } from "./fixtures.js";
import { type DeliveryModelOptions, describeDeliveryModel } from "./model.js";
import { describeOrdering } from "./ordering.js";
import { describeRetention } from "./retention.js";
import { describeTopics } from "./topics.js";

export type { StoreFactory } from "./fixtures.js";

/**
 * The store contract: one test body that every backend runs (sqlite, redis, nats, postgres), so they all keep the
 * semantics the broker engine relies on. Call it from a backend's test file with a factory that opens a fresh,
 * empty store (and, for durable backends, reopens the same data). It ends with the delivery model test (random
 * operation sequences compared step by step with the delivery rules; `model` sets its runs).
 */
export function describeStoreContract(
  name: string,
  factory: StoreFactory,
  options: { model?: DeliveryModelOptions } = {},
): void {
  describe(`store contract: ${name}`, () => {
    describeTopics(factory);
    describeAppend(factory);
    describeDelivery(factory);
    describeDeadLetters(factory);
    describeOrdering(factory);
    describeRetention(factory);
    describeDurability(factory);
  });
  describeDeliveryModel(name, factory, options.model);
}
export { type DeliveryModelOptions, describeDeliveryModel } from "./model.js";
