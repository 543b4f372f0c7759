import type { Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { type CebusClient, createCebusClient } from "./client.js";
import type { BatchingOptions } from "./publish-batcher.js";

export * from "./index.js";

export interface ClientOptions {
  /** The broker, e.g. http://127.0.0.1:8080. */
  url: string;
  /** Headers sent with every call (e.g. authorization). */
  headers?: Record<string, string>;
  /** Gathering of single-event publishes into batches (linger, size, in-flight); false turns it off [on]. */
  batching?: BatchingOptions | false;
  /** How long a publish waits in all, retrying, while the broker refuses it for load [30 s]; 0: not at all. */
  backpressureRetryMs?: number;
}

/** A Cebus client for Node: Connect over HTTP/2 (cleartext or TLS), with the bidirectional Consume stream. */
export function createClient(options: ClientOptions): CebusClient {
  const interceptors: Interceptor[] = [];
  const headers = options.headers;
  if (headers) {
    interceptors.push((next) => (request) => {
      for (const [name, value] of Object.entries(headers)) request.header.set(name, value);
      return next(request);
    });
  }
  const transport = createConnectTransport({
    baseUrl: options.url,
    httpVersion: "2",
    useBinaryFormat: true,
    interceptors,
  });
  return createCebusClient({
    url: options.url,
    transport,
    defaultMode: "stream",
    batching: options.batching,
    backpressureRetryMs: options.backpressureRetryMs,
  });
}
