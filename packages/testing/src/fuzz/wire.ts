import type { DescMethod } from "@bufbuild/protobuf";
import { errorCodes } from "@cebus/core";
import { isEnveloped, type ProtocolShape } from "./routes.js";

/** An HTTP answer as it came off the wire. */
export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  trailers: Record<string, string>;
  body: Uint8Array;
}

/** What an answer means: "ok", a Connect/gRPC code in its wire spelling, or `http_<status>` for a bare HTTP error. */
export interface Outcome {
  status: number;
  code: string;
  message: string;
}

/** One 5-byte-prefixed frame as Connect streams, gRPC and gRPC-Web carry messages. */
export interface Envelope {
  flags: number;
  data: Uint8Array;
}

export const compressedFlag = 0x01;
export const endStreamFlag = 0x02;
export const trailerFlag = 0x80;

/** Frames the data; `length` overrides the prefix (a corrupt frame) and is written as an unsigned 32-bit number. */
export function encodeEnvelope(flags: number, data: Uint8Array, length = data.length): Uint8Array {
  const out = new Uint8Array(5 + data.length);
  out[0] = flags;
  new DataView(out.buffer).setUint32(1, length >>> 0);
  out.set(data, 5);
  return out;
}

/** Splits framed bytes into envelopes; undefined when the bytes do not end on a frame boundary. */
export function splitEnvelopes(bytes: Uint8Array): Envelope[] | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const envelopes: Envelope[] = [];
  let at = 0;
  while (at < bytes.length) {
    if (at + 5 > bytes.length) return undefined;
    const length = view.getUint32(at + 1);
    if (at + 5 + length > bytes.length) return undefined;
    envelopes.push({ flags: bytes[at] ?? 0, data: bytes.subarray(at + 5, at + 5 + length) });
    at += 5 + length;
  }
  return envelopes;
}

const codeNames = ["ok", ...errorCodes];

function codeOfGrpcStatus(value: string | undefined): string {
  if (value === undefined) return "no_grpc_status";
  return codeNames[Number(value)] ?? `grpc_status_${value}`;
}

function decodeGrpcMessage(value: string | undefined): string {
  if (value === undefined) return "";
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/** A Connect error body ({"code": ..., "message": ...}), or the bare HTTP status when the body is not one. */
function connectError(status: number, json: string): Outcome {
  try {
    const error = JSON.parse(json) as { code?: unknown; message?: unknown };
    if (typeof error.code === "string")
      return { status, code: error.code, message: String(error.message ?? "") };
  } catch {
    // not a Connect error body: the HTTP status is all there is
  }
  return { status, code: `http_${status}`, message: json.slice(0, 200) };
}

function connectStreamOutcome(response: RawResponse): Outcome {
  const end = splitEnvelopes(response.body)?.find((e) => (e.flags & endStreamFlag) === endStreamFlag);
  if (!end) return { status: response.status, code: "no_end_stream", message: "" };
  let json: { error?: { code: string; message?: string } };
  try {
    json = JSON.parse(text(end.data));
  } catch {
    return { status: response.status, code: "bad_end_stream", message: text(end.data).slice(0, 200) };
  }
  if (!json.error) return { status: response.status, code: "ok", message: "" };
  return { status: response.status, code: json.error.code, message: json.error.message ?? "" };
}

/** gRPC-Web trailers: in the headers of a trailers-only answer, else in the body's trailer frame. */
function grpcWebTrailers(response: RawResponse): Record<string, string> {
  if (response.headers["grpc-status"] !== undefined) return response.headers;
  const frame = splitEnvelopes(response.body)?.find((e) => (e.flags & trailerFlag) === trailerFlag);
  const trailers: Record<string, string> = {};
  for (const line of text(frame?.data ?? new Uint8Array()).split("\r\n")) {
    const colon = line.indexOf(":");
    if (colon > 0) trailers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return trailers;
}

/** Reads the outcome of an RPC answer the way a client of that shape would. */
export function rpcOutcome(shape: ProtocolShape, method: DescMethod, response: RawResponse): Outcome {
  const { status } = response;
  const isConnect = shape.startsWith("connect-");
  if (isConnect && (status !== 200 || !isEnveloped(shape, method))) {
    return status === 200 ? { status, code: "ok", message: "" } : connectError(status, text(response.body));
  }
  if (isConnect) return connectStreamOutcome(response);
  if (status !== 200) return { status, code: `http_${status}`, message: text(response.body).slice(0, 200) };
  const trailers =
    shape === "grpc" ? { ...response.headers, ...response.trailers } : grpcWebTrailers(response);
  return {
    status,
    code: codeOfGrpcStatus(trailers["grpc-status"]),
    message: decodeGrpcMessage(trailers["grpc-message"]),
  };
}

function text(bytes: Uint8Array): string {
  return new TextDecoder().decode(bytes);
}
