import { CebusError, type ErrorCode } from "@cebus/core";
import { Code, ConnectError } from "@connectrpc/connect";

const names: Record<Code, ErrorCode> = {
  [Code.Canceled]: "canceled",
  [Code.Unknown]: "unknown",
  [Code.InvalidArgument]: "invalid_argument",
  [Code.DeadlineExceeded]: "deadline_exceeded",
  [Code.NotFound]: "not_found",
  [Code.AlreadyExists]: "already_exists",
  [Code.PermissionDenied]: "permission_denied",
  [Code.ResourceExhausted]: "resource_exhausted",
  [Code.FailedPrecondition]: "failed_precondition",
  [Code.Aborted]: "aborted",
  [Code.OutOfRange]: "out_of_range",
  [Code.Unimplemented]: "unimplemented",
  [Code.Internal]: "internal",
  [Code.Unavailable]: "unavailable",
  [Code.DataLoss]: "data_loss",
  [Code.Unauthenticated]: "unauthenticated",
};

/** Every error the client surfaces is a CebusError with the broker's code and message (which says what to do). */
export function toCebusError(reason: unknown, url: string): CebusError {
  if (reason instanceof CebusError) return reason;
  if (reason instanceof ConnectError) {
    const retry = reason.metadata.get("retry-after-ms");
    const unreachable =
      reason.code === Code.Unavailable &&
      /ECONNREFUSED|ECONNRESET|fetch failed|Failed to fetch|NetworkError/i.test(
        `${reason.message} ${String(reason.cause ?? "")}`,
      );
    const message = unreachable
      ? `cannot reach the Cebus broker at ${url}; is \`cebus serve\` running there?`
      : reason.rawMessage;
    return new CebusError(names[reason.code] ?? "unknown", message, {
      cause: reason,
      retryAfterMs: retry === null ? undefined : Number(retry),
    });
  }
  return CebusError.from(reason, "unknown");
}

/** Errors after which reconnecting a subscription cannot help. */
export function isPermanent(error: CebusError): boolean {
  return [
    "not_found",
    "invalid_argument",
    "permission_denied",
    "unauthenticated",
    "failed_precondition",
    "unimplemented",
  ].includes(error.code);
}
