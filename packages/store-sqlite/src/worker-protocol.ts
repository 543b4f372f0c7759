import { CebusError, type ErrorCode } from "@cebus/core";
import type { ClaimResult, Lease } from "@cebus/store";

/**
 * The messages between the broker's thread and the embedded store's worker thread (worker-store.ts and
 * sqlite-worker.ts). They cross by structured clone, which keeps plain data, typed arrays and bigints but not an
 * error's own fields or an array's extra properties: errors and claim results travel in the shapes below.
 */

/** A call of a Store method, answered by a `Reply` with the same id. */
export interface Call {
  id: number;
  method: string;
  args: unknown[];
}

export type Reply = { id: number; result: unknown } | { id: number; error: SentError };

/** The first message of the worker: the store opened, or why it did not. */
export type Opened = { opened: true } | { opened: false; error: SentError };

export type SentError =
  | {
      cebus: true;
      code: ErrorCode;
      message: string;
      field: string | undefined;
      retryAfterMs: number | undefined;
    }
  | { cebus: false; message: string };

export function sendError(error: unknown): SentError {
  if (error instanceof CebusError) {
    const { code, message, field, retryAfterMs } = error;
    return { cebus: true, code, message, field, retryAfterMs };
  }
  return { cebus: false, message: error instanceof Error ? error.message : String(error) };
}

export function receiveError(sent: SentError): Error {
  if (!sent.cebus) return new Error(sent.message);
  return new CebusError(sent.code, sent.message, {
    ...(sent.field === undefined ? {} : { field: sent.field }),
    ...(sent.retryAfterMs === undefined ? {} : { retryAfterMs: sent.retryAfterMs }),
  });
}

/** A claim result as it crosses (an array's `passedOver` and `nextVisibleAt` would be lost). */
export interface SentClaim {
  leases: Lease[];
  passedOver: number | undefined;
  nextVisibleAt: number | undefined;
}

export function sendClaim(result: ClaimResult): SentClaim {
  return { leases: [...result], passedOver: result.passedOver, nextVisibleAt: result.nextVisibleAt };
}

export function receiveClaim(sent: SentClaim): ClaimResult {
  const result: ClaimResult = sent.leases;
  if (sent.passedOver !== undefined) result.passedOver = sent.passedOver;
  if (sent.nextVisibleAt !== undefined) result.nextVisibleAt = sent.nextVisibleAt;
  return result;
}
