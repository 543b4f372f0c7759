import {
  attributeString,
  CebusError,
  type CloudEventJson,
  eventData,
  partitionKey,
  timestampMs,
  toCloudEventJson,
} from "@cebus/core";
import type { CloudEvent, Delivery } from "@cebus/proto";

/** How a message is settled; each returns when the broker confirmed it. */
export interface Settler {
  ack(deliveryId: string): Promise<void>;
  nack(deliveryId: string, delayMs: number | undefined): Promise<void>;
  extend(deliveryId: string, extensionMs: number | undefined): Promise<void>;
  term(deliveryId: string, reason: string): Promise<void>;
}

/** One delivery of one event. Settle it exactly once with ack, nack or term; extend as often as needed first. */
export interface Message {
  readonly event: CloudEvent;
  readonly id: string;
  readonly type: string;
  readonly source: string;
  readonly deliveryId: string;
  /** 1 for the first delivery, then 1 + nacks + expired leases. */
  readonly attempt: number;
  readonly partition: number;
  readonly offset: number;
  /** The event's `sequence` attribute, set by the broker: its offset, zero-padded to 20 digits (sorts as text). */
  readonly sequence: string | undefined;
  /** The event's partition key (`partitionkey`), if it has one. */
  readonly key: string | undefined;
  readonly publishTime: Date;
  /**
   * Settle before this (on the broker's clock) or the event is redelivered: the deadline as delivered (`extend` moves
   * it on at the broker). Undefined for at-most-once.
   */
  readonly leaseDeadline: Date | undefined;
  /** The event's data: parsed JSON for JSON content types, text, or bytes. */
  data<T = unknown>(): T;
  /** The event in the CloudEvents JSON format. */
  json(): CloudEventJson;
  /** Confirmed ack: once it resolves, this event is never redelivered to this subscription. */
  ack(): Promise<void>;
  /** Redeliver after `delayMs` (or the subscription's backoff). */
  nack(delayMs?: number): Promise<void>;
  /** Push the ack deadline out by `extensionMs` from now (or the subscription's ack deadline). */
  extend(extensionMs?: number): Promise<void>;
  /** Give up: dead-letter the event now (or drop it when the subscription has no dead-letter topic). */
  term(reason?: string): Promise<void>;
}

export function createMessage(delivery: Delivery, settler: Settler): Message {
  const event = delivery.event as CloudEvent;
  let settled: string | undefined;
  const once = (action: string, run: () => Promise<void>): Promise<void> => {
    if (settled) {
      return Promise.reject(
        new CebusError(
          "failed_precondition",
          `message ${event.id} (delivery ${delivery.deliveryId}) was already ${settled}; settle each message once`,
        ),
      );
    }
    settled = action;
    return run();
  };
  return {
    event,
    id: event.id,
    type: event.type,
    source: event.source,
    deliveryId: delivery.deliveryId,
    attempt: delivery.attempt,
    partition: delivery.partition,
    offset: Number(delivery.offset),
    sequence: attributeString(event, "sequence"),
    key: partitionKey(event),
    publishTime: new Date(delivery.publishTime ? timestampMs(delivery.publishTime) : 0),
    leaseDeadline: delivery.leaseDeadline ? new Date(timestampMs(delivery.leaseDeadline)) : undefined,
    data: <T>() => eventData(event) as T,
    json: () => toCloudEventJson(event),
    ack: () => once("acked", () => settler.ack(delivery.deliveryId)),
    nack: (delayMs) => once("nacked", () => settler.nack(delivery.deliveryId, delayMs)),
    extend: (extensionMs) => {
      if (settled) return once("extended", async () => {});
      return settler.extend(delivery.deliveryId, extensionMs);
    },
    term: (reason = "terminated by consumer") =>
      once("terminated", () => settler.term(delivery.deliveryId, reason)),
  };
}
