import type { MessageInitShape } from "@bufbuild/protobuf";
import type { ErrorInfo, ErrorInfoSchema } from "@cebus/proto";

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

/** The gRPC/Connect number of a code: `errorCodes` is in their order, 1 (canceled) to 16 (unauthenticated). */
export function grpcCodeOf(code: ErrorCode): number {
  return errorCodes.indexOf(code) + 1;
}

/** The code of a gRPC/Connect number; "unknown" for a number outside 1–16. */
export function errorCodeOfGrpc(grpc: number): ErrorCode {
  return errorCodes[grpc - 1] ?? "unknown";
}

/**
 * Codes after which trying again cannot help: the request or the name is wrong, or access is refused. A consumer
 * that meets one stops instead of reconnecting; every other code is worth a retry with backoff.
 */
export const permanentCodes: readonly ErrorCode[] = [
  "not_found",
  "invalid_argument",
  "permission_denied",
  "unauthenticated",
  "failed_precondition",
  "unimplemented",
];

export function isPermanent(error: CebusError): boolean {
  return permanentCodes.includes(error.code);
}

/** What an error tells a program beyond its code and message, as the `cebus.v1.ErrorInfo` error detail carries it. */
export function errorInfoOf(error: CebusError): MessageInitShape<typeof ErrorInfoSchema> | undefined {
  if (error.field === undefined && error.retryAfterMs === undefined) return undefined;
  return { field: error.field ?? "", retryAfterMs: Math.max(0, Math.round(error.retryAfterMs ?? 0)) };
}

/** The options an `ErrorInfo` detail gives a CebusError (empty values are absent). */
export function optionsOfErrorInfo(
  info: ErrorInfo | undefined,
): Pick<CebusErrorOptions, "field" | "retryAfterMs"> {
  if (!info) return {};
  return {
    ...(info.field ? { field: info.field } : {}),
    ...(info.retryAfterMs > 0 ? { retryAfterMs: info.retryAfterMs } : {}),
  };
}
