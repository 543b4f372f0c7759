/**
 * The one error type of Cebus. Codes are the Connect/gRPC codes in their wire spelling; the server maps them to
 * Connect errors at the edge and the SDKs map them back, so a code means the same thing everywhere.
 * Messages say what was wrong and what to do about it.
 */
export const errorCodes = [
  "canceled",
  "unknown",
  "invalid_argument",
  "deadline_exceeded",
  "not_found",
  "already_exists",
  "permission_denied",
  "resource_exhausted",
  "failed_precondition",
  "aborted",
  "out_of_range",
  "unimplemented",
  "internal",
  "unavailable",
  "data_loss",
  "unauthenticated",
] as const;

export type ErrorCode = (typeof errorCodes)[number];

export interface CebusErrorOptions {
  /** The field or attribute at fault, e.g. "events[2].source". */
  field?: string;
  /** Milliseconds after which a retry may succeed (resource_exhausted, unavailable). */
  retryAfterMs?: number;
  cause?: unknown;
}

export class CebusError extends Error {
  override readonly name = "CebusError";
  readonly code: ErrorCode;
  readonly field: string | undefined;
  readonly retryAfterMs: number | undefined;

  constructor(code: ErrorCode, message: string, options: CebusErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.field = options.field;
    this.retryAfterMs = options.retryAfterMs;
  }

  /** Wraps anything thrown into a CebusError, keeping CebusErrors as they are. */
  static from(reason: unknown, code: ErrorCode = "internal"): CebusError {
    if (reason instanceof CebusError) return reason;
    const message = reason instanceof Error ? reason.message : String(reason);
    return new CebusError(code, message, { cause: reason });
  }
}

export function isErrorCode(value: string): value is ErrorCode {
  return (errorCodes as readonly string[]).includes(value);
}
