import { createServer as createHttp1Server, type IncomingMessage, type ServerResponse } from "node:http";
import {
  createServer as createHttp2Server,
  type Http2ServerRequest,
  type Http2ServerResponse,
} from "node:http2";
import { createServer as createNetServer, type Socket } from "node:net";
import { Duplex } from "node:stream";

export type RequestHandler = (
  request: IncomingMessage | Http2ServerRequest,
  response: ServerResponse | Http2ServerResponse,
) => void;

export interface ListenOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  handler: RequestHandler;
  /** How long close() lets requests and streams in flight finish before cutting them [10 s]. */
  shutdownGraceMs?: number;
}

export interface Listener {
  /** http://host:port */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/** The first bytes of a cleartext HTTP/2 connection with prior knowledge (RFC 9113, section 3.4). */
const preface = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

/**
 * The HTTP/2 server reads a net.Socket's handle natively, so bytes already read while sniffing would be lost;
 * it is given a Duplex over the socket instead, starting with those bytes.
 */
function streamOf(socket: Socket, head: Buffer): Duplex {
  const duplex = new Duplex({
    read() {
      socket.resume();
    },
    write(chunk, encoding, callback) {
      socket.write(chunk, encoding, callback);
    },
    final(callback) {
      socket.end(callback);
    },
    destroy(error, callback) {
      socket.destroy(error ?? undefined);
      callback(error);
    },
  });
  duplex.push(head);
  socket.on("data", (chunk) => {
    if (!duplex.push(chunk)) socket.pause();
  });
  socket.on("end", () => duplex.push(null));
  socket.on("close", () => duplex.destroy());
  socket.on("error", (error) => duplex.destroy(error));
  return duplex;
}

/**
 * Serves HTTP/1.1 (Connect, gRPC-Web, curl) and cleartext HTTP/2 (gRPC, Connect streams) on ONE port: each new
 * connection's first bytes are compared with the HTTP/2 preface and the socket goes to the matching server.
 */
export async function listen(options: ListenOptions): Promise<Listener> {
  const graceMs = options.shutdownGraceMs ?? 10_000;
  const http1 = createHttp1Server(
    { requestTimeout: 0, headersTimeout: 60_000, keepAliveTimeout: 65_000 },
    options.handler,
  );
  const http2 = createHttp2Server({}, options.handler);
  const sockets = new Set<Socket>();
  // HTTP/1.1 keep-alive connections with no request in progress: closed at once on shutdown (the server's own
  // closeIdleConnections does not see sockets handed over by the protocol sniffing below).
  const http1Idle = new Set<Socket>();
  http1.on(
    "request",
    (request: import("node:http").IncomingMessage, response: import("node:http").ServerResponse) => {
      const socket = request.socket;
      http1Idle.delete(socket);
      response.once("close", () => {
        if (!socket.destroyed) http1Idle.add(socket);
      });
    },
  );
  const sessions = new Set<import("node:http2").ServerHttp2Session>();
  const streams = new Set<import("node:http2").ServerHttp2Stream>();
  http2.on("stream", (stream) => {
    streams.add(stream);
    stream.once("close", () => streams.delete(stream));
  });
  http2.on("session", (session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
  });

  const net = createNetServer((socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    socket.setNoDelay(true);
    let seen = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      seen = Buffer.concat([seen, chunk]);
      const n = Math.min(seen.length, preface.length);
      const isHttp2 = seen.subarray(0, n).equals(preface.subarray(0, n));
      if (isHttp2 && seen.length < preface.length) return; // could still be HTTP/2: wait for more bytes
      socket.off("data", onData);
      if (isHttp2) {
        http2.emit("connection", streamOf(socket, seen));
      } else {
        http1Idle.add(socket);
        socket.once("close", () => http1Idle.delete(socket));
        socket.pause();
        socket.unshift(seen);
        http1.emit("connection", socket);
        socket.resume();
      }
    };
    socket.on("data", onData);
    socket.on("error", () => socket.destroy());
  });

  await new Promise<void>((resolve, reject) => {
    net.once("error", reject);
    net.listen(options.port, options.host, () => {
      net.off("error", reject);
      resolve();
    });
  });
  const address = net.address();
  const port = typeof address === "object" && address ? address.port : options.port;
  const host = options.host.includes(":") ? `[${options.host}]` : options.host;

  let closing: Promise<void> | undefined;
  return {
    url: `http://${host}:${port}`,
    port,
    close() {
      closing ??= (async () => {
        const stopped = new Promise<void>((resolve) => net.close(() => resolve()));
        for (const socket of http1Idle) socket.destroy();
        for (const session of sessions) session.close(); // GOAWAY: no new streams, open ones finish
        const drained = new Promise<void>((resolve) => {
          const check = setInterval(() => {
            for (const socket of http1Idle) socket.destroy();
            // A response already complete whose request side is still open (a bidi stream the server ended)
            // would hold the connection: RST_STREAM NO_ERROR tells the client to stop sending (RFC 9113, 8.1).
            for (const stream of streams) if (stream.writableEnded) stream.close();
            if (sockets.size === 0) {
              clearInterval(check);
              resolve();
            }
          }, 20);
          setTimeout(() => {
            clearInterval(check);
            resolve();
          }, graceMs).unref();
        });
        await drained;
        for (const socket of sockets) socket.destroy();
        http1.closeAllConnections();
        await stopped;
      })();
      return closing;
    },
  };
}
