import { gzipSync } from "node:zlib";
import type { DescMessage } from "@bufbuild/protobuf";
import fc from "fast-check";
import { isMalformed } from "./oracle.js";
import type { RawRequest } from "./raw-http.js";
import {
  contentTypeOf,
  encodingHeaderOf,
  httpPaths,
  isEnveloped,
  isJson,
  needsHttp2,
  type ProtocolShape,
  protocolShapes,
  type RpcRoute,
} from "./routes.js";
import { encodeSample, sampleJson } from "./sample-messages.js";
import { encodeEnvelope } from "./wire.js";

/** One request of the fuzz, with what it is for the report. */
export interface FuzzCase {
  /** What the run counts per: "<rpc path> <shape>", or "http <endpoint>". */
  label: string;
  /** How the body (or request) was broken, for a failure's report. */
  kind: string;
  /** The route and shape of an RPC case; undefined for the plain HTTP cases. */
  rpc: { route: RpcRoute; shape: ProtocolShape } | undefined;
  http2: boolean;
  request: RawRequest;
}

interface Payload {
  kind: string;
  bytes: Uint8Array;
}

const text = new TextEncoder();

function concat(...parts: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts));
}

/** Valid Protobuf binary of the type with a random subset of its fields set. */
function validBinary(desc: DescMessage): fc.Arbitrary<Uint8Array> {
  return fc.subarray([...desc.fields]).map((fields) => encodeSample(fields));
}

/** Byte strings no message can start with: a broken tag, a group never closed, a varint past 64 bits. */
const brokenWire = [
  [0x0f], // field 1, wire type 7 (there is none)
  [0x0b, 0x08, 0x01], // field 1 opens a group that never ends
  [0x0c], // an end-group tag with no group open
  [0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01], // a varint of 11 bytes
  [0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f], // a length of 4 GiB
  [0x00], // field number 0
].map((bytes) => new Uint8Array(bytes));

function protoPayload(desc: DescMessage): fc.Arbitrary<Payload> {
  const valid = validBinary(desc);
  return fc.oneof(
    fc.uint8Array({ maxLength: 48 }).map((bytes) => ({ kind: "random bytes", bytes })),
    valid.chain((bytes) =>
      fc
        .nat({ max: Math.max(0, bytes.length - 1) })
        .map((n) => ({ kind: "truncated message", bytes: bytes.subarray(0, n) })),
    ),
    fc.tuple(valid, fc.constantFrom(...brokenWire)).map(([bytes, broken]) => ({
      kind: "message then broken wire data",
      bytes: concat(bytes, broken),
    })),
    fc.tuple(valid, fc.nat(), fc.integer({ min: 0, max: 255 })).map(([bytes, at, value]) => {
      const copy = bytes.slice();
      if (copy.length > 0) copy[at % copy.length] = value;
      return { kind: "message with a corrupted byte", bytes: copy };
    }),
  );
}

function jsonPayload(desc: DescMessage): fc.Arbitrary<Payload> {
  const validJson = validBinary(desc).map((binary) => sampleJson(desc, binary));
  const names = desc.fields.map((field) => field.jsonName);
  const wrongField = names.length
    ? fc.tuple(fc.constantFrom(...names), fc.jsonValue({ maxDepth: 2 })).map(([name, value]) => ({
        kind: "field of the wrong JSON type",
        bytes: text.encode(JSON.stringify({ [name]: value })),
      }))
    : fc
        .jsonValue({ maxDepth: 2 })
        .map((value) => ({ kind: "random JSON", bytes: text.encode(JSON.stringify(value)) }));
  return fc.oneof(
    fc.string({ unit: "binary", maxLength: 40 }).map((s) => ({ kind: "random text", bytes: text.encode(s) })),
    validJson.chain((json) =>
      fc
        .nat({ max: Math.max(0, json.length - 1) })
        .map((n) => ({ kind: "truncated JSON", bytes: text.encode(json.slice(0, n)) })),
    ),
    fc
      .jsonValue({ maxDepth: 2 })
      .map((value) => ({ kind: "random JSON", bytes: text.encode(JSON.stringify(value)) })),
    wrongField,
    fc.uint8Array({ minLength: 1, maxLength: 32 }).map((bytes) => ({ kind: "binary sent as JSON", bytes })),
  );
}

/** A body compressed with gzip and cut short, or bytes that never were gzip. */
function brokenGzip(payload: fc.Arbitrary<Payload>): fc.Arbitrary<Payload> {
  return fc.oneof(
    payload.chain(({ bytes }) => {
      const zipped = new Uint8Array(gzipSync(bytes));
      return fc
        .nat({ max: zipped.length - 1 })
        .map((n) => ({ kind: "gzip cut short", bytes: zipped.subarray(0, n) }));
    }),
    fc.uint8Array({ maxLength: 32 }).map((bytes) => ({ kind: "not gzip", bytes })),
  );
}

/** Framed bodies: malformed messages in good frames, and good or bad messages in broken frames. */
function framedBody(payload: fc.Arbitrary<Payload>): fc.Arbitrary<Payload> {
  const frame = (p: Payload, flags = 0) => encodeEnvelope(flags, p.bytes);
  return fc.oneof(
    fc.array(payload, { minLength: 1, maxLength: 3 }).map((ps) => ({
      kind: `${ps.length} frame(s): ${ps.map((p) => p.kind).join(", ")}`,
      bytes: concat(...ps.map((p) => frame(p))),
    })),
    fc.tuple(payload, fc.integer({ min: 1, max: 255 })).map(([p, flags]) => ({
      kind: `frame flags 0x${flags.toString(16)}: ${p.kind}`,
      bytes: frame(p, flags),
    })),
    fc.tuple(payload, fc.integer({ min: 1, max: 1000 })).map(([p, extra]) => ({
      kind: "length prefix too long",
      bytes: encodeEnvelope(0, p.bytes, p.bytes.length + extra),
    })),
    fc.tuple(payload, fc.nat()).map(([p, cut]) => ({
      kind: "length prefix too short",
      bytes: encodeEnvelope(0, p.bytes, p.bytes.length === 0 ? 0 : cut % p.bytes.length),
    })),
    fc.tuple(payload, fc.constantFrom(0xffffffff, 0x80000000, 64 * 1024 * 1024 + 1)).map(([p, length]) => ({
      kind: `oversized length prefix ${length}`,
      bytes: encodeEnvelope(0, p.bytes, length),
    })),
    fc.tuple(payload, fc.nat()).map(([p, cut]) => {
      const bytes = frame(p);
      return { kind: "frame cut short", bytes: bytes.subarray(0, cut % bytes.length) };
    }),
  );
}

/** Content types no route of the broker accepts (a 415 for every one of them). */
const foreignContentTypes = [
  "text/plain",
  "application/xml",
  "application/x-www-form-urlencoded",
  "multipart/form-data; boundary=x",
  "application/octet-stream",
  "application/grpc+xml",
  "application/connect+xml",
  "application/grpc-web+xml",
];

function protocolHeaders(shape: ProtocolShape): Record<string, string> {
  if (shape === "grpc") return { te: "trailers" };
  if (shape === "grpc-web") return { "x-grpc-web": "1" };
  return { "connect-protocol-version": "1" };
}

/** The body of a call of this route and shape: a broken message, its broken gzip, in good or broken frames. */
function rpcBody(route: RpcRoute, shape: ProtocolShape): fc.Arbitrary<{ payload: Payload; gzip: boolean }> {
  const payload = isJson(shape) ? jsonPayload(route.method.input) : protoPayload(route.method.input);
  if (!isEnveloped(shape, route.method)) {
    return fc.oneof(
      { arbitrary: payload.map((p) => ({ payload: p, gzip: false })), weight: 4 },
      { arbitrary: brokenGzip(payload).map((p) => ({ payload: p, gzip: true })), weight: 1 },
    );
  }
  const zipped = brokenGzip(payload).map((p) => ({
    payload: { kind: p.kind, bytes: encodeEnvelope(0x01, p.bytes) },
    gzip: true,
  }));
  return fc.oneof(
    { arbitrary: framedBody(payload).map((p) => ({ payload: p, gzip: false })), weight: 4 },
    { arbitrary: zipped, weight: 1 },
  );
}

function rpcCase(route: RpcRoute, shape: ProtocolShape): fc.Arbitrary<FuzzCase> {
  const contentType = fc.oneof(
    { arbitrary: fc.constant(contentTypeOf(shape, route.method)), weight: 9 },
    { arbitrary: fc.constantFrom(...foreignContentTypes), weight: 1 },
  );
  const http2 = needsHttp2(shape, route.method) ? fc.constant(true) : fc.boolean();
  return fc
    .record({ body: rpcBody(route, shape), contentType, http2 })
    .map(({ body, contentType, http2 }) => {
      const headers: Record<string, string> = { ...protocolHeaders(shape), "content-type": contentType };
      if (body.gzip) headers[encodingHeaderOf(shape, route.method)] = "gzip";
      const foreign = contentType !== contentTypeOf(shape, route.method);
      return {
        label: `${route.path} ${shape}`,
        kind: foreign ? `content type ${contentType}` : body.payload.kind,
        rpc: { route, shape },
        http2,
        request: { method: "POST", path: route.path, headers, body: body.payload.bytes },
      };
    })
    .filter(
      (c) =>
        c.kind.startsWith("content type ") ||
        isMalformed({ route, shape, headers: c.request.headers, body: c.request.body }),
    );
}

/** Malformed calls of every RPC route, in every protocol shape, each certainly malformed (see isMalformed). */
export function rpcCases(routes: readonly RpcRoute[]): fc.Arbitrary<FuzzCase> {
  return fc.oneof(...routes.flatMap((route) => protocolShapes.map((shape) => rpcCase(route, shape))));
}

/** Plain HTTP requests: the probes with any method and body, unknown paths, and RPC paths with a method not POST. */
export function httpCases(routes: readonly RpcRoute[]): fc.Arbitrary<FuzzCase> {
  const method = fc.constantFrom("GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD");
  const path = fc.oneof(
    fc.tuple(fc.constantFrom(...httpPaths), fc.option(fc.webQueryParameters())).map(([p, query]) => ({
      label: `http ${p}`,
      path: query ? `${p}?${query}` : p,
    })),
    fc.webPath().map((p) => ({ label: "http unknown path", path: `/${p.replace(/^\/+/, "")}` })),
    fc
      .constantFrom(...routes.map((r) => r.path))
      .map((p) => ({ label: "http rpc path, wrong method", path: p })),
  );
  // Over HTTP/1.1 a bidi route answers 505 whatever the method (Connect and gRPC need HTTP/2 for a full-duplex call).
  const bidiPaths = new Set(
    routes.filter((r) => r.method.methodKind === "bidi_streaming").map((r) => r.path),
  );
  return fc
    .record({ method, path, body: fc.uint8Array({ maxLength: 32 }), http2: fc.boolean() })
    .filter(({ method, path }) => !(path.label === "http rpc path, wrong method" && method === "POST"))
    .map(({ method, path, body, http2 }) => ({
      label: path.label,
      kind: `${method} ${path.path}`,
      rpc: undefined,
      http2: http2 || bidiPaths.has(path.path),
      request: {
        method,
        path: path.path,
        headers: { "content-type": "application/octet-stream" },
        body: method === "GET" || method === "HEAD" ? new Uint8Array() : body,
      },
    }));
}
