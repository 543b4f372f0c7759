import { Code, ConnectError, type ConnectRouter } from "@connectrpc/connect";
import type { UniversalHandler, UniversalServerRequest } from "@connectrpc/connect/protocol";

/** Content types whose bodies are 5-byte-framed messages: gRPC, gRPC-Web and Connect streams. */
const framedContentType = /^application\/(grpc|connect\+)/i;

const frameHeaderBytes = 5;

/**
 * Passes a framed request body through unchanged, and fails it when it ends inside a frame. connect-es 2.2 reads a
 * body that ends right after a frame header (a length, then no bytes) as a clean end before that frame, so a unary
 * call of one good message plus such a header was carried out; the caller sent a broken request.
 */
export async function* completeFrames(body: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  const header = new Uint8Array(frameHeaderBytes);
  let headerFill = 0;
  let remaining = 0;
  for await (const chunk of body) {
    let at = 0;
    while (at < chunk.length) {
      if (remaining > 0) {
        const skip = Math.min(remaining, chunk.length - at);
        remaining -= skip;
        at += skip;
        continue;
      }
      header[headerFill++] = chunk[at++] as number;
      if (headerFill === frameHeaderBytes) {
        remaining = new DataView(header.buffer).getUint32(1);
        headerFill = 0;
      }
    }
    yield chunk;
  }
  if (headerFill > 0 || remaining > 0) {
    const missing =
      headerFill > 0 ? `${frameHeaderBytes - headerFill} bytes of a frame header` : `${remaining} bytes`;
    throw new ConnectError(
      `the request ends inside a message frame (${missing} missing); send each message whole, after its 5-byte header`,
      Code.InvalidArgument,
    );
  }
}

function withCompleteFrames(handler: UniversalHandler): UniversalHandler {
  const guarded = (request: UniversalServerRequest) => {
    const { body } = request;
    const framed = framedContentType.test(request.header.get("content-type") ?? "");
    if (!framed || typeof body !== "object" || body === null || !(Symbol.asyncIterator in body)) {
      return handler(request);
    }
    return handler({ ...request, body: completeFrames(body) });
  };
  return Object.assign(guarded, handler);
}

/** Makes every route of the router refuse a framed request body that ends inside a frame (see completeFrames). */
export function refuseIncompleteFrames(router: ConnectRouter): void {
  router.handlers.splice(0, router.handlers.length, ...router.handlers.map(withCompleteFrames));
}
