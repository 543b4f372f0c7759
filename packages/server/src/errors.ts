import type { Logger } from "@cebus/broker";
import { CebusError, type ErrorCode } from "@cebus/core";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";

const codes: Record<ErrorCode, Code> = {
  canceled: Code.Canceled,
  unknown: Code.Unknown,
  invalid_argument: Code.InvalidArgument,
  deadline_exceeded: Code.DeadlineExceeded,
  not_found: Code.NotFound,
  already_exists: Code.AlreadyExists,
  permission_denied: Code.PermissionDenied,
  resource_exhausted: Code.ResourceExhausted,
  failed_precondition: Code.FailedPrecondition,
  aborted: Code.Aborted,
  out_of_range: Code.OutOfRange,
  unimplemented: Code.Unimplemented,
  internal: Code.Internal,
  unavailable: Code.Unavailable,
  data_loss: Code.DataLoss,
  unauthenticated: Code.Unauthenticated,
};

/** A handler's error as the caller may see it: CebusErrors as they are; anything else is logged and `internal`. */
export function callerError(reason: unknown, logger: Logger): CebusError {
  if (reason instanceof CebusError) return reason;
  logger.error({ err: reason }, "unexpected error in a handler");
  return new CebusError("internal", "internal error in the broker; see its log for details");
}

/** Maps anything a handler throws to a ConnectError (see callerError). */
export function toConnectError(reason: unknown, logger: Logger): ConnectError {
  if (reason instanceof ConnectError) return reason;
  const cebus = callerError(reason, logger);
  const error = new ConnectError(cebus.message, codes[cebus.code]);
  if (cebus.retryAfterMs !== undefined) error.metadata.set("retry-after-ms", String(cebus.retryAfterMs));
  return error;
}

/** A server interceptor that maps errors of unary calls and of streams while they run. */
export function errorInterceptor(logger: Logger): Interceptor {
  return (next) => async (request) => {
    try {
      const response = await next(request);
      if (!response.stream) return response;
      const messages = response.message;
      return {
        ...response,
        message: (async function* () {
          try {
            yield* messages;
          } catch (reason) {
            throw toConnectError(reason, logger);
          }
        })(),
      };
    } catch (reason) {
      throw toConnectError(reason, logger);
    }
  };
}
