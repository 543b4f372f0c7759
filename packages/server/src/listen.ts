import {
  createServer as createHttp1Server,
  type Server as Http1Server,
  type IncomingMessage,
  type ServerResponse,
} from "node:http";
import {
  createServer as createHttp2Server,
  type Http2Server,
  type Http2ServerRequest,
  type Http2ServerResponse,
  type ServerHttp2Session,
  type ServerHttp2Stream,
} from "node:http2";
import { createServer as createNetServer, type Server as NetServer, type Socket } from "node:net";

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

/** The connections a listener keeps track of, to close them on shutdown. */
interface Connections {
  sockets: Set<Socket>;
  /**
   * HTTP/1.1 keep-alive connections with no request in progress: closed at once on shutdown (the server's own
   * closeIdleConnections does not see sockets handed over by the protocol sniffing).
   */
  http1Idle: Set<Socket>;
  sessions: Set<ServerHttp2Session>;
  streams: Set<ServerHttp2Stream>;
}

/**
 * Serves HTTP/1.1 (Connect, gRPC-Web, curl) and cleartext HTTP/2 (gRPC, Connect streams) on ONE port: each new
 * connection's first bytes are compared with the HTTP/2 preface and the socket goes to the matching server.
 */
export async function listen(options: ListenOptions): Promise<Listener> {
  const graceMs = options.shutdownGraceMs ?? 10_000;
  const connections: Connections = {
    sockets: new Set(),
    http1Idle: new Set(),
    sessions: new Set(),
    streams: new Set(),
  };
  const http1 = createHttp1(options.handler, connections);
  const http2 = createHttp2(options.handler, connections);
  const net = createNetServer((socket) => routeConnection(socket, http1, http2, connections));
  await bind(net, options.port, options.host);
  const address = net.address();
  const port = typeof address === "object" && address ? address.port : options.port;
  const host = options.host.includes(":") ? `[${options.host}]` : options.host;

  let closing: Promise<void> | undefined;
  return {
    url: `http://${host}:${port}`,
    port,
    close() {
      closing ??= shutdown(net, http1, connections, graceMs);
      return closing;
    },
  };
}

/** The HTTP/1.1 server; it marks a connection idle when its response closes. */
function createHttp1(handler: RequestHandler, connections: Connections): Http1Server {
  const http1 = createHttp1Server(
    { requestTimeout: 0, headersTimeout: 60_000, keepAliveTimeout: 65_000 },
    handler,
  );
  http1.on("request", (request: IncomingMessage, response: ServerResponse) => {
    const socket = request.socket;
    connections.http1Idle.delete(socket);
    response.once("close", () => {
      if (!socket.destroyed) connections.http1Idle.add(socket);
    });
  });
  return http1;
}

/** The cleartext HTTP/2 server; it tracks its sessions and open streams. */
function createHttp2(handler: RequestHandler, connections: Connections): Http2Server {
  const http2 = createHttp2Server({}, handler);
  http2.on("stream", (stream) => {
    connections.streams.add(stream);
    stream.once("close", () => connections.streams.delete(stream));
  });
  http2.on("session", (session) => {
    connections.sessions.add(session);
    session.once("close", () => connections.sessions.delete(session));
  });
  return http2;
}

/** Reads a new connection's first bytes and hands the socket to the HTTP/2 server on the preface, else HTTP/1.1. */
function routeConnection(
  socket: Socket,
  http1: Http1Server,
  http2: Http2Server,
  connections: Connections,
): void {
  connections.sockets.add(socket);
  socket.once("close", () => connections.sockets.delete(socket));
  socket.setNoDelay(true);
  let seen = Buffer.alloc(0);
  const onData = (chunk: Buffer) => {
    seen = Buffer.concat([seen, chunk]);
    const n = Math.min(seen.length, preface.length);
    const isHttp2 = seen.subarray(0, n).equals(preface.subarray(0, n));
    if (isHttp2 && seen.length < preface.length) return; // could still be HTTP/2: wait for more bytes
    socket.off("data", onData);
    socket.pause();
    socket.unshift(seen);
    if (isHttp2) {
      // The session reads the socket's handle natively and first takes what is buffered (the bytes unshifted here).
      http2.emit("connection", socket);
    } else {
      connections.http1Idle.add(socket);
      socket.once("close", () => connections.http1Idle.delete(socket));
      http1.emit("connection", socket);
      socket.resume();
    }
  };
  socket.on("data", onData);
  socket.on("error", () => socket.destroy());
}

function bind(net: NetServer, port: number, host: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    net.once("error", reject);
    net.listen(port, host, () => {
      net.off("error", reject);
      resolve();
    });
  });
}

/**
 * Stops accepting, closes idle HTTP/1.1 connections and sends GOAWAY on HTTP/2 sessions, lets requests and streams
 * in flight finish within `graceMs`, then cuts what is left.
 */
async function shutdown(
  net: NetServer,
  http1: Http1Server,
  connections: Connections,
  graceMs: number,
): Promise<void> {
  const stopped = new Promise<void>((resolve) => net.close(() => resolve()));
  for (const socket of connections.http1Idle) socket.destroy();
  for (const session of connections.sessions) session.close(); // GOAWAY: no new streams, open ones finish
  await drained(connections, graceMs);
  for (const socket of connections.sockets) socket.destroy();
  http1.closeAllConnections();
  await stopped;
}

/** Resolves when no connection is left, or after `graceMs`. */
function drained(connections: Connections, graceMs: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const check = setInterval(() => {
      for (const socket of connections.http1Idle) socket.destroy();
      // A response already complete whose request side is still open (a bidi stream the server ended)
      // would hold the connection: RST_STREAM NO_ERROR tells the client to stop sending (RFC 9113, 8.1).
      for (const stream of connections.streams) if (stream.writableEnded) stream.close();
      if (connections.sockets.size === 0) {
        clearInterval(check);
        resolve();
      }
    }, 20);
    setTimeout(() => {
      clearInterval(check);
      resolve();
    }, graceMs).unref();
  });
}
