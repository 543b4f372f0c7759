import { randomFillSync } from "node:crypto";
import type { LeaseRef } from "@cebus/store";

/**
 * A delivery id names one lease of one event: "partition.offset.attempt.token". It is opaque to clients, and any
 * broker process over the same store can settle it, because the lease it names lives in the store. The attempt is
 * the one the store leased it with, so any process computes the same nack backoff for it; the store checks the
 * token, so an id is only ever honoured for its own lease. This file is the one place ids are written and read.
 */
export interface DeliveryRef extends LeaseRef {
  /** The attempt the lease was delivered with; undefined for ids of the older form "partition.offset.token". */
  attempt: number | undefined;
}

export function deliveryId(partition: number, offset: number, attempt: number, token: string): string {
  return `${partition}.${offset}.${attempt}.${token}`;
}

const idPattern = /^(\d{1,9})\.(\d{1,16})\.(?:(\d{1,9})\.)?([a-z0-9]{1,32})$/;

/** Parses a delivery id; undefined when it is not one. */
export function parseDeliveryId(id: string): DeliveryRef | undefined {
  const match = idPattern.exec(id);
  if (!match) return undefined;
  return {
    partition: Number(match[1]),
    offset: Number(match[2]),
    attempt: match[3] === undefined ? undefined : Number(match[3]),
    token: match[4] as string,
  };
}

/** The lease an id names, as the store takes it. */
export function leaseOf(ref: DeliveryRef): LeaseRef {
  return { partition: ref.partition, offset: ref.offset, token: ref.token };
}

/** Random bytes for tokens, drawn 4 KiB at a time: one call into the system's generator per 512 tokens. */
const pool = Buffer.alloc(4096);
let poolAt = pool.length;

function random64(): bigint {
  if (poolAt + 8 > pool.length) {
    randomFillSync(pool);
    poolAt = 0;
  }
  const value = pool.readBigUInt64BE(poolAt);
  poolAt += 8;
  return value;
}

/** A fresh lease token. Tokens of at-most-once deliveries start with "m": they hold no lease. */
export function newToken(atMostOnce: boolean): string {
  const random = random64().toString(36);
  return atMostOnce ? `m${random}` : `l${random}`;
}

export function isAtMostOnceToken(token: string): boolean {
  return token.startsWith("m");
}
