import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { type Broker, createBroker, type Logger } from "@cebus/broker";
import { CebusError } from "@cebus/core";
import { type CebusServer, startServer } from "@cebus/server";
import { createSqliteStore } from "@cebus/store-sqlite";

export interface TestBrokerOptions {
  /**
   * "memory" (the default: nothing on disk), "sqlite" (a database in a temp dir, removed on close) or "sqlite:DIR"
   * (the database DIR/cebus.db, kept on close: start a broker on it again to see what survived).
   */
  store?: "memory" | "sqlite" | `sqlite:${string}`;
  /** The port on 127.0.0.1 [0: a free one]. */
  port?: number;
  /** Web page origins allowed to call the broker from a browser, e.g. http://127.0.0.1:5173, or `*`. */
  corsOrigins?: readonly string[];
  /** Where the broker logs (a pino logger fits) [silent]. */
  logger?: Logger;
}

/** A real Cebus broker in this process: Connect, gRPC and gRPC-Web on one loopback port. */
export interface TestBroker extends AsyncDisposable {
  /** The URL clients connect to, e.g. http://127.0.0.1:41234. */
  readonly url: string;
  readonly port: number;
  /** The sqlite store's directory; undefined for the memory store. */
  readonly dataDir: string | undefined;
  /** Ends consumer streams (their leases go back at once), stops listening, closes the store. Idempotent. */
  close(): Promise<void>;
}

/** How long close() lets calls in flight finish: a test broker stops fast. */
const shutdownGraceMs = 1000;

interface OpenedStore {
  store: ReturnType<typeof createSqliteStore>;
  dataDir: string | undefined;
  /** A temp dir of our own, removed on close. */
  ownDir: string | undefined;
}

/** Opens the store an option names; anything else is a CebusError that lists what is accepted. */
function openTestStore(option: TestBrokerOptions["store"] = "memory"): OpenedStore {
  if (option === "memory")
    return { store: createSqliteStore({ path: ":memory:" }), dataDir: undefined, ownDir: undefined };
  if (option === "sqlite") {
    const dir = mkdtempSync(join(tmpdir(), "cebus-test-broker-"));
    return { store: createSqliteStore({ path: join(dir, "cebus.db") }), dataDir: dir, ownDir: dir };
  }
  if (typeof option === "string" && option.startsWith("sqlite:") && option.length > "sqlite:".length) {
    const dir = resolve(option.slice("sqlite:".length));
    return { store: createSqliteStore({ path: join(dir, "cebus.db") }), dataDir: dir, ownDir: undefined };
  }
  throw new CebusError(
    "invalid_argument",
    `startTestBroker: store '${String(option)}' is not supported; use "memory", "sqlite" (a temp dir) or "sqlite:DIR"`,
    { field: "store" },
  );
}

/** Starts the server; when it cannot listen, closes the broker (and so the store) and removes our temp dir. */
async function listenOrClose(
  broker: Broker,
  options: TestBrokerOptions,
  ownDir: string | undefined,
): Promise<CebusServer> {
  try {
    return await startServer({
      broker,
      host: "127.0.0.1",
      port: options.port ?? 0,
      logger: options.logger,
      corsOrigins: options.corsOrigins,
      shutdownGraceMs,
    });
  } catch (error) {
    await broker.close();
    if (ownDir) rmSync(ownDir, { recursive: true, force: true });
    throw error;
  }
}

/** Stops in the order `cebus serve` does: stop accepting, end the consumer streams, let calls finish, close. */
async function shutdown(server: CebusServer, broker: Broker, ownDir: string | undefined): Promise<void> {
  const serverClosed = server.close();
  await broker.drain();
  await serverClosed;
  await broker.close();
  if (ownDir) rmSync(ownDir, { recursive: true, force: true });
}

/**
 * Starts a real Cebus broker in this process on a free 127.0.0.1 port, on the memory store unless told otherwise.
 * Needs nothing but this package: no repository, no binary, no other process.
 *
 * ```ts
 * await using broker = await startTestBroker();
 * const cebus = createClient({ url: broker.url });
 * ```
 */
export async function startTestBroker(options: TestBrokerOptions = {}): Promise<TestBroker> {
  const { store, dataDir, ownDir } = openTestStore(options.store);
  const broker = createBroker({ store, logger: options.logger });
  const server = await listenOrClose(broker, options, ownDir);
  let closed: Promise<void> | undefined;
  const close = () => {
    closed ??= shutdown(server, broker, ownDir);
    return closed;
  };
  return { url: server.url, port: server.port, dataDir, close, [Symbol.asyncDispose]: close };
}
