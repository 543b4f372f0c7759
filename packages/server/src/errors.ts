import type { Logger } from "@cebus/broker";
import { CebusError, errorInfoOf, grpcCodeOf } from "@cebus/core";
import { ErrorInfoSchema } from "@cebus/proto";
import { type Code, ConnectError, type Interceptor } from "@connectrpc/connect";

/** A handler's error as the caller may see it: CebusErrors as they are; anything else is logged and `internal`. */
export function callerError(reason: unknown, logger: Logger): CebusError {
  if (reason instanceof CebusError) return reason;
  logger.error({ err: reason }, "unexpected error in a handler");
  return new CebusError("internal", "internal error in the broker; see its log for details");
}

/** Maps anything a handler throws to a ConnectError (see callerError); field and retry hint go as an ErrorInfo detail. */
export function toConnectError(reason: unknown, logger: Logger): ConnectError {
  if (reason instanceof ConnectError) return reason;
  const cebus = callerError(reason, logger);
  const info = errorInfoOf(cebus);
  const details = info ? [{ desc: ErrorInfoSchema, value: info }] : [];
  return new ConnectError(cebus.message, grpcCodeOf(cebus.code) as Code, undefined, details);
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
