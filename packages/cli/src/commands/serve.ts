import { type Broker, createBroker } from "@cebus/broker";
import { startServer } from "@cebus/server";
import type { Command } from "commander";
import { type Logger, pino } from "pino";
import { ConfigError, resolveServeConfig, type ServeConfig } from "../config.js";
import { openStore } from "../open-store.js";

interface ServeFlags {
  port?: string;
  host?: string;
  store?: string;
  config?: string;
  logLevel?: string;
  maxPendingPublishBytes?: string;
  retentionInterval?: string;
  corsOrigins?: string;
}

type Server = Awaited<ReturnType<typeof startServer>>;

/**
 * JSON lines on stdout, written synchronously: a line logged just before exit (the stop, a crash) is never lost
 * in a buffer. Logging is rare next to the broker's work, so the synchronous write costs nothing measurable.
 */
function createServeLogger(level: string): Logger {
  const logger = pino({ level, base: { pid: process.pid } }, pino.destination({ dest: 1, sync: true }));
  const crashed = (error: unknown) => {
    logger.fatal({ err: error }, "cebus crashed");
    process.exit(1);
  };
  process.on("uncaughtException", crashed);
  process.on("unhandledRejection", crashed);
  return logger;
}

/** A usage or configuration problem: one line on stderr, exit 2. */
function exitWithUsageError(message: string): never {
  process.stderr.write(`error: ${message}\n`);
  process.exit(2);
}

/** Runs a step of the start whose ConfigError is a usage error (one line on stderr, exit 2). */
async function orUsageError<T>(step: () => T | Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (error) {
    if (error instanceof ConfigError) exitWithUsageError(error.message);
    throw error;
  }
}

async function listenOrExit(broker: Broker, config: ServeConfig, logger: Logger): Promise<Server> {
  try {
    return await startServer({
      broker,
      host: config.host,
      port: config.port,
      logger,
      corsOrigins: config.corsOrigins,
    });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const hint =
      code === "EADDRINUSE"
        ? `port ${config.port} is in use; pick another with --port, or stop the other process`
        : (error as Error).message;
    await broker.close();
    exitWithUsageError(`cannot listen on ${config.host}:${config.port}: ${hint}`);
  }
}

/** SIGTERM/SIGINT stop gracefully; a second signal exits at once. */
function stopOnSignals(server: Server, broker: Broker, logger: Logger): void {
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) {
      logger.warn({ signal }, "second signal: exiting at once");
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, "cebus stopping");
    // GOAWAY and readyz 503 first, then end the consumer streams (leases kept), then wait for calls in flight.
    const serverClosed = server.close();
    await broker.drain();
    await serverClosed;
    await broker.close();
    logger.info({}, "cebus stopped");
    process.exit(0);
  };
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));
}

async function serve(flags: ServeFlags): Promise<void> {
  const config = await orUsageError(() => resolveServeConfig(flags));
  // The logger first: a crash while the store opens (on its worker thread) is logged too.
  const logger = createServeLogger(config.logLevel);
  const store = await orUsageError(() => openStore(config.store));
  const broker = createBroker({
    store,
    logger,
    retentionIntervalMs: config.retentionInterval,
    limits: {
      ...(config.maxEventBytes ? { defaultMaxEventBytes: config.maxEventBytes } : {}),
      ...(config.maxPendingPublishBytes ? { maxPendingPublishBytes: config.maxPendingPublishBytes } : {}),
    },
  });
  const server = await listenOrExit(broker, config, logger);
  // Signals are handled before anyone can know the URL: a SIGTERM right after "listening" still stops gracefully.
  stopOnSignals(server, broker, logger);
  logger.info({ url: server.url, store: store.description }, "cebus listening");
}

export function registerServe(program: Command): void {
  program
    .command("serve")
    .description("run the broker (Connect, gRPC and gRPC-Web on one port; /healthz, /readyz)")
    .option("--port <port>", "port to listen on; 0 picks a free one [8080, env CEBUS_PORT]")
    .option("--host <host>", "address to listen on [127.0.0.1, env CEBUS_HOST]")
    .option(
      "--store <url>",
      "sqlite:DIR, memory, redis://host:port[/db], postgres://user@host/db or nats://host:port [sqlite:./cebus-data, env CEBUS_STORE]",
    )
    .option(
      "--config <file>",
      "JSON file with port, host, store, logLevel, maxEventBytes, maxPendingPublishBytes, retentionInterval, corsOrigins [env CEBUS_CONFIG]",
    )
    .option(
      "--max-pending-publish-bytes <n>",
      "backpressure: publishes are refused (resource_exhausted, retry hint) while this many bytes of them wait for the store [64 MiB, env CEBUS_MAX_PENDING_PUBLISH_BYTES]",
    )
    .option(
      "--retention-interval <duration>",
      "how often age and size retention runs [60s, env CEBUS_RETENTION_INTERVAL]",
    )
    .option(
      "--cors-origins <origins>",
      "web page origins that may call the broker from a browser, comma-separated (e.g. http://localhost:5173), or * for any [none, env CEBUS_CORS_ORIGINS]",
    )
    .option(
      "--log-level <level>",
      "fatal, error, warn, info, debug, trace or silent [info, env CEBUS_LOG_LEVEL]",
    )
    .action(serve);
}
