import { Agent, request as http1Request, type IncomingHttpHeaders } from "node:http";
import {
  type ClientHttp2Session,
  connect as connectHttp2,
  type IncomingHttpHeaders as Http2Headers,
} from "node:http2";
import type { RawResponse } from "./wire.js";

/** One request exactly as the fuzz wants it on the wire: no client library in between to fix it up. */
export interface RawRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: Uint8Array;
}

/** An answer, or why there was none: a reset stream, a closed connection, or nothing within the hang limit. */
export type RawResult = { ok: true; response: RawResponse } | { ok: false; reason: string };

/** Sends raw requests over HTTP/1.1 (keep-alive) or cleartext HTTP/2 (one session, reopened if it goes away). */
export interface RawHttpClient {
  send(request: RawRequest, http2: boolean): Promise<RawResult>;
  close(): void;
}

/** Long enough for any answer from a live broker; only a hung call ever reaches it. */
const hangLimitMs = 15_000;

function flatten(headers: IncomingHttpHeaders | Http2Headers): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(headers)) {
    if (value !== undefined && !key.startsWith(":"))
      out[key] = Array.isArray(value) ? value.join(", ") : String(value);
  }
  return out;
}

function concat(chunks: Buffer[]): Uint8Array {
  return new Uint8Array(Buffer.concat(chunks));
}

function sendHttp1(agent: Agent, url: URL, request: RawRequest): Promise<RawResult> {
  return new Promise((resolve) => {
    const outgoing = http1Request(
      {
        agent,
        host: url.hostname,
        port: url.port,
        method: request.method,
        path: request.path,
        headers: { ...request.headers, "content-length": String(request.body.length) },
        timeout: hangLimitMs,
      },
      (incoming) => {
        const chunks: Buffer[] = [];
        incoming.on("data", (chunk: Buffer) => chunks.push(chunk));
        incoming.on("error", (error) => resolve({ ok: false, reason: `response error: ${error.message}` }));
        incoming.on("end", () =>
          resolve({
            ok: true,
            response: {
              status: incoming.statusCode ?? 0,
              headers: flatten(incoming.headers),
              trailers: flatten(incoming.trailers),
              body: concat(chunks),
            },
          }),
        );
      },
    );
    outgoing.on("timeout", () => outgoing.destroy(new Error(`no answer within ${hangLimitMs} ms`)));
    outgoing.on("error", (error) => resolve({ ok: false, reason: `request error: ${error.message}` }));
    outgoing.end(request.body);
  });
}

function sendHttp2(session: ClientHttp2Session, request: RawRequest): Promise<RawResult> {
  return new Promise((resolve) => {
    // Node ends a GET, HEAD or DELETE stream at once unless told otherwise: the body must go out whatever the method.
    const endStream = request.body.length === 0;
    const stream = session.request(
      { ":method": request.method, ":path": request.path, ...request.headers },
      { endStream },
    );
    const chunks: Buffer[] = [];
    let headers: Record<string, string> = {};
    let status = 0;
    let trailers: Record<string, string> = {};
    stream.setTimeout(hangLimitMs, () => {
      resolve({ ok: false, reason: `no answer within ${hangLimitMs} ms` });
      stream.close();
    });
    stream.on("response", (h) => {
      status = Number(h[":status"] ?? 0);
      headers = flatten(h);
    });
    stream.on("trailers", (t) => {
      trailers = flatten(t);
    });
    stream.on("data", (chunk: Buffer) => chunks.push(chunk));
    stream.on("error", (error) => resolve({ ok: false, reason: `stream error: ${error.message}` }));
    stream.on("close", () => {
      if (stream.rstCode !== 0 && status === 0)
        resolve({ ok: false, reason: `stream reset ${stream.rstCode}` });
      else resolve({ ok: true, response: { status, headers, trailers, body: concat(chunks) } });
    });
    if (!endStream) stream.end(request.body);
  });
}

export function createRawHttpClient(baseUrl: string, maxSockets: number): RawHttpClient {
  const url = new URL(baseUrl);
  const agent = new Agent({ keepAlive: true, maxSockets });
  let session: ClientHttp2Session | undefined;
  const http2Session = () => {
    if (!session || session.closed || session.destroyed) {
      session = connectHttp2(baseUrl);
      session.on("error", () => undefined); // each stream reports its own failure
    }
    return session;
  };
  return {
    send: (request, http2) => (http2 ? sendHttp2(http2Session(), request) : sendHttp1(agent, url, request)),
    close() {
      agent.destroy();
      session?.close();
    },
  };
}
