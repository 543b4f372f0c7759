import { create } from "@bufbuild/protobuf";
import { CebusError, stringAttribute } from "@cebus/core";
import { type CloudEvent, CloudEventSchema, type Delivery } from "@cebus/proto";
import { expect } from "vitest";
import type { Consumer } from "./consumer.js";
import { withDecodedEvent } from "./delivery-event.js";

/** Helpers of the broker's tests (not part of the build). */

export function event(id: string, extra: Partial<CloudEvent> & { key?: string } = {}): CloudEvent {
  const { key, ...rest } = extra;
  return create(CloudEventSchema, {
    id,
    source: "/test",
    specVersion: "1.0",
    type: "test.event",
    data: { case: "textData", value: `data-${id}` },
    ...rest,
    attributes: { ...(key ? { partitionkey: stringAttribute(key) } : {}), ...rest.attributes },
  });
}

/** Per consumer: one iterator and the read still in flight when a previous `take` timed out. */
const readers = new WeakMap<
  Consumer,
  { iterator: AsyncIterator<Delivery[]>; pending?: Promise<IteratorResult<Delivery[]>> }
>();

/** Reads deliveries from a consumer until `count` arrived or `ms` passed (their events decoded). */
export async function take(consumer: Consumer, count: number, ms = 3000): Promise<Delivery[]> {
  let reader = readers.get(consumer);
  if (!reader) {
    reader = { iterator: consumer.deliveries[Symbol.asyncIterator]() };
    readers.set(consumer, reader);
  }
  const got: Delivery[] = [];
  const deadline = Date.now() + ms;
  while (got.length < count) {
    const left = deadline - Date.now();
    if (left <= 0) break;
    reader.pending ??= reader.iterator.next();
    const next = await Promise.race([
      reader.pending,
      new Promise<"timeout">((resolve) => setTimeout(() => resolve("timeout"), left)),
    ]);
    if (next === "timeout") break;
    reader.pending = undefined;
    if (next.done) break;
    got.push(...next.value.map(withDecodedEvent));
  }
  return got;
}

export async function rejected(promise: Promise<unknown>): Promise<CebusError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(CebusError);
    return error as CebusError;
  }
  throw new Error("expected a rejection");
}
