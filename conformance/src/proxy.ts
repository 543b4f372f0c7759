import { connect, createServer, type Server, type Socket } from "node:net";
import { createResponseWatch } from "./response-watch.js";

/**
 * A loopback TCP proxy between clients and the broker that injects network faults: added latency, connection
 * resets, a blackhole (bytes are swallowed in both directions, connections stay open), and swallowed responses
 * (client bytes reach the broker, nothing comes back: the "lost publish ack").
 */
export interface FaultProxy {
  readonly url: string;
  readonly port: number;
  setTarget(port: number): void;
  /** Resets every open connection at once. */
  reset(): void;
  blackhole(on: boolean): void;
  swallowResponses(on: boolean): void;
  latency(ms: number): void;
  /**
   * Calls `listener` the instant the broker has sent a response on any connection (an HTTP/2 END_STREAM, or the
   * first bytes of an HTTP/1.1 response), before the bytes go on to the client. Returns a function that removes it.
   */
  onResponseSent(listener: () => void): () => void;
  close(): Promise<void>;
}

export async function startFaultProxy(targetPort: number, host = "127.0.0.1"): Promise<FaultProxy> {
  let target = targetPort;
  let blackholed = false;
  let swallowing = false;
  let delayMs = 0;
  const pairs = new Set<[Socket, Socket]>();
  const responseListeners = new Set<() => void>();

  const forward = (from: Socket, to: Socket, isResponse: boolean) => {
    from.on("data", (chunk) => {
      if (blackholed || (isResponse && swallowing)) return;
      if (delayMs > 0) setTimeout(() => to.writable && to.write(chunk), delayMs);
      else if (to.writable) to.write(chunk);
    });
  };

  const server: Server = createServer((client) => {
    const upstream = connect(target, host);
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on("error", end).on("close", end);
    upstream.on("error", end).on("close", end);
    // before forwarding: a listener acts before the client has the response
    const watch = createResponseWatch();
    client.on("data", (chunk: Buffer) => watch.fromClient(chunk));
    upstream.on("data", (chunk: Buffer) => {
      if (watch.fromBroker(chunk)) for (const listener of [...responseListeners]) listener();
    });
    forward(client, upstream, false);
    forward(upstream, client, true);
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;

  return {
    url: `http://${host}:${port}`,
    port,
    setTarget(p) {
      target = p;
    },
    reset() {
      for (const [client, upstream] of pairs) {
        client.resetAndDestroy();
        upstream.destroy();
      }
      pairs.clear();
    },
    blackhole(on) {
      blackholed = on;
    },
    swallowResponses(on) {
      swallowing = on;
    },
    latency(ms) {
      delayMs = ms;
    },
    onResponseSent(listener) {
      responseListeners.add(listener);
      return () => responseListeners.delete(listener);
    },
    async close() {
      for (const [client, upstream] of pairs) {
        client.destroy();
        upstream.destroy();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
