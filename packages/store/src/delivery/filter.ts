import { fromBinary } from "@bufbuild/protobuf";
import { compileFilter } from "@cebus/core";
import { CloudEventSchema, type Filter } from "@cebus/proto";
import type { ClaimRequest, StoredEvent } from "../store.js";
import type { ClaimInput } from "./claim.js";

/**
 * A claim's filter arrives as data (`ClaimRequest.filter`, the subscription's `Filter`), so that a claim can cross
 * a thread or process boundary; the rules take a predicate over stored events. This turns one into the other, once
 * per filter object: the predicate decodes the stored CloudEvent and tests it with the compiled filter.
 */

const compiled = new WeakMap<Filter, (event: StoredEvent) => boolean>();

/** The predicate over stored events of a subscription's filter (compiled once per filter object). */
export function storedEventFilter(filter: Filter): (event: StoredEvent) => boolean {
  let predicate = compiled.get(filter);
  if (!predicate) {
    const matches = compileFilter(filter, "subscription.filter");
    predicate = (event) => matches(fromBinary(CloudEventSchema, event.data));
    compiled.set(filter, predicate);
  }
  return predicate;
}

/** A store's claim request as the claim rule takes it (the filter compiled). */
export function claimInput(request: ClaimRequest): ClaimInput {
  const { filter, ...rest } = request;
  return filter ? { ...rest, filter: storedEventFilter(filter) } : rest;
}
