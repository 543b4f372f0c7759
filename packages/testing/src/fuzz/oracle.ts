import { gunzipSync } from "node:zlib";
import { type DescMessage, fromBinary, fromJsonString } from "@bufbuild/protobuf";
import type { RpcRoute } from "./routes.js";
import { encodingHeaderOf, isEnveloped, isJson, type ProtocolShape } from "./routes.js";
import { compressedFlag, endStreamFlag, splitEnvelopes, trailerFlag } from "./wire.js";

/**
 * Whether these bytes are one message of the type, read the way connect-es reads a request: Protobuf binary with
 * unknown fields kept, or JSON with unknown fields ignored.
 */
export function parses(desc: DescMessage, bytes: Uint8Array, json: boolean): boolean {
  try {
    if (json) fromJsonString(desc, new TextDecoder().decode(bytes), { ignoreUnknownFields: true });
    else fromBinary(desc, bytes);
    return true;
  } catch {
    return false;
  }
}

/** Decompresses as connect-node does: an empty body stays empty (it is not read as a gzip stream). */
function gunzip(bytes: Uint8Array): Uint8Array | undefined {
  if (bytes.length === 0) return bytes;
  try {
    return new Uint8Array(gunzipSync(bytes));
  } catch {
    return undefined;
  }
}

/** The flag of request frames connect-es skips unread: end-of-stream in Connect, trailers in gRPC-Web; none in gRPC. */
function skippedFlag(shape: ProtocolShape): number | undefined {
  if (shape === "grpc-web") return trailerFlag;
  return shape === "grpc" ? undefined : endStreamFlag;
}

/** An RPC call with the route's own content type, as the fuzz sends it. */
export interface RpcCall {
  route: RpcRoute;
  shape: ProtocolShape;
  headers: Record<string, string>;
  body: Uint8Array;
}

/**
 * Whether a broker must reject the call for its bytes alone: its body (or one of its framed messages) is not a
 * message of the route's type, its framing is broken, it is flagged compressed without an encoding or does not
 * decompress, or a unary or server-streaming call does not carry exactly one message. A call this says no to may
 * be valid, and is not sent: the fuzz only sends requests that are certainly malformed.
 */
export function isMalformed(call: RpcCall): boolean {
  const { method } = call.route;
  const json = isJson(call.shape);
  const gzip = call.headers[encodingHeaderOf(call.shape, method)] === "gzip";
  if (!isEnveloped(call.shape, method)) {
    const bytes = gzip ? gunzip(call.body) : call.body;
    return bytes === undefined || !parses(method.input, bytes, json);
  }
  const envelopes = splitEnvelopes(call.body);
  if (envelopes === undefined) return true;
  let messages = 0;
  for (const envelope of envelopes) {
    let data: Uint8Array | undefined = envelope.data;
    if ((envelope.flags & compressedFlag) === compressedFlag) data = gzip ? gunzip(data) : undefined;
    if (data === undefined) return true;
    const skipped = skippedFlag(call.shape);
    if (skipped !== undefined && (envelope.flags & skipped) === skipped) continue;
    if (!parses(method.input, data, json)) return true;
    messages++;
  }
  const single = method.methodKind === "unary" || method.methodKind === "server_streaming";
  return single && messages !== 1;
}
