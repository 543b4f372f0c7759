import { CebusError, errorCodeOfGrpc, optionsOfErrorInfo } from "@cebus/core";
import { ErrorInfoSchema } from "@cebus/proto";
import { Code, ConnectError } from "@connectrpc/connect";

/** Every error the client surfaces is a CebusError with the broker's code and message (which says what to do). */
export function toCebusError(reason: unknown, url: string): CebusError {
  if (reason instanceof CebusError) return reason;
  if (reason instanceof ConnectError) {
    const unreachable =
      reason.code === Code.Unavailable &&
      /ECONNREFUSED|ECONNRESET|fetch failed|Failed to fetch|NetworkError/i.test(
        `${reason.message} ${String(reason.cause ?? "")}`,
      );
    const message = unreachable
      ? `cannot reach the Cebus broker at ${url}; is \`cebus serve\` running there?`
      : reason.rawMessage;
    const [info] = reason.findDetails(ErrorInfoSchema);
    return new CebusError(errorCodeOfGrpc(reason.code), message, {
      cause: reason,
      ...optionsOfErrorInfo(info),
    });
  }
  return CebusError.from(reason, "unknown");
}
