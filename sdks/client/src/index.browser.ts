import type { Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { type CebusClient, createCebusClient } from "./client.js";

export * from "./index.js";

export interface ClientOptions {
  url: string;
  headers?: Record<string, string>;
  /** How long a publish waits in all, retrying, while the broker refuses it for load [30 s]; 0: not at all. */
  backpressureRetryMs?: number;
}

/** A Cebus client for browsers: Connect over fetch; subscriptions use the Receive server stream and unary settles. */
export function createClient(options: ClientOptions): CebusClient {
  const interceptors: Interceptor[] = [];
  const headers = options.headers;
  if (headers) {
    interceptors.push((next) => (request) => {
      for (const [name, value] of Object.entries(headers)) request.header.set(name, value);
      return next(request);
    });
  }
  const transport = createConnectTransport({ baseUrl: options.url, interceptors });
  return createCebusClient({
    url: options.url,
    transport,
    defaultMode: "receive",
    backpressureRetryMs: options.backpressureRetryMs,
  });
}
