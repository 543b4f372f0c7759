import { randomBytes } from "node:crypto";
import type { LeaseRef } from "@cebus/store";

/**
 * A delivery id names one lease of one event: "partition.offset.token". It is opaque to clients, and any broker
 * process over the same store can settle it, because the lease it names lives in the store.
 */
export function deliveryId(partition: number, offset: number, token: string): string {
  return `${partition}.${offset}.${token}`;
}

/** Parses a delivery id; undefined when it is not one. */
export function parseDeliveryId(id: string): LeaseRef | undefined {
  const match = /^(\d{1,9})\.(\d{1,16})\.([a-z0-9]{1,32})$/.exec(id);
  if (!match) return undefined;
  return { partition: Number(match[1]), offset: Number(match[2]), token: match[3] as string };
}

/** A fresh lease token. Tokens of at-most-once deliveries start with "m": they hold no lease. */
export function newToken(atMostOnce: boolean): string {
  const random = randomBytes(8).readBigUInt64BE().toString(36);
  return atMostOnce ? `m${random}` : `l${random}`;
}

export function isAtMostOnceToken(token: string): boolean {
  return token.startsWith("m");
}
