import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";

/**
 * A request connect-es cannot read is the caller's fault, yet connect-es 2.2 answers some of them `internal` (HTTP
 * 500): a body that is not valid Protobuf binary ("parse binary: premature EOF"), a message flagged compressed in a
 * call that names no encoding, a compressed body that does not decompress. No option sets that code, and a unary
 * body is parsed before any interceptor runs, so the fix sits in the one hook every call of every protocol passes:
 * the request gate, which runs before the body is read. It watches the call's signal, which each protocol handler
 * aborts with the error it is about to send, and turns such an error into `invalid_argument` naming the message
 * type the route expects (a body that is not valid JSON is already `invalid_argument`, and protobuf-es names the
 * type). Every other error, a server bug's `internal` included, is left as it is.
 */
export function reclassifyMalformedRequests(context: HandlerContext): void {
  const typeName = context.method.input.typeName;
  const signal = context.signal;
  signal.addEventListener("abort", () => reclassify(signal.reason, typeName), { once: true });
}

/** The message of a malformed request's error, or undefined when the error is not about the request's bytes. */
export function malformedRequestMessage(error: ConnectError, typeName: string): string | undefined {
  const raw = error.rawMessage;
  if (error.code === Code.Internal && raw.startsWith("parse binary: ")) {
    const reason = raw.slice("parse binary: ".length);
    return `the request is not a valid ${typeName}: its Protobuf binary encoding is malformed (${reason}); send one whole ${typeName} per message`;
  }
  if (
    error.code === Code.Internal &&
    raw === "received compressed envelope, but do not know how to decompress"
  ) {
    return `a ${typeName} message is flagged compressed but the call names no encoding; send it uncompressed (flag 0) or set grpc-encoding / connect-content-encoding`;
  }
  if (error.code === Code.Internal && raw === "decompression failed") {
    return `the ${typeName} request could not be decompressed (${causeMessage(error)}); compress it whole with the encoding the call names`;
  }
  return undefined;
}

function causeMessage(error: ConnectError): string {
  return error.cause instanceof Error ? error.cause.message : String(error.cause);
}

/**
 * Rewrites the error in place: the protocol handler that aborted the signal with it writes it next, so it must stay
 * the same object. ConnectError's fields are readonly in its types only.
 */
function reclassify(reason: unknown, typeName: string): void {
  if (!(reason instanceof ConnectError)) return;
  const message = malformedRequestMessage(reason, typeName);
  if (message === undefined) return;
  Object.assign(reason, {
    code: Code.InvalidArgument,
    rawMessage: message,
    message: `[invalid_argument] ${message}`,
  });
}
