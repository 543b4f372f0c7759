import { createBroker } from "@cebus/broker";
import { startServer } from "@cebus/server";
import type { Command } from "commander";
import { pino } from "pino";
import { ConfigError, resolveServeConfig } from "../config.js";
import { openStore } from "../open-store.js";

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
      "JSON file with port, host, store, logLevel, maxEventBytes, retentionInterval, corsOrigins [env CEBUS_CONFIG]",
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
    .action(
      async (flags: {
        port?: string;
        host?: string;
        store?: string;
        config?: string;
        logLevel?: string;
        retentionInterval?: string;
        corsOrigins?: string;
      }) => {
        let config: ReturnType<typeof resolveServeConfig>;
        let store: Awaited<ReturnType<typeof openStore>>;
        try {
          config = resolveServeConfig(flags);
          store = await openStore(config.store);
        } catch (error) {
          if (error instanceof ConfigError) {
            process.stderr.write(`error: ${error.message}\n`);
            process.exit(2);
          }
          throw error;
        }
        const logger = pino({ level: config.logLevel, base: { pid: process.pid } });
        const broker = createBroker({
          store,
          logger,
          retentionIntervalMs: config.retentionInterval,
          limits: config.maxEventBytes ? { defaultMaxEventBytes: config.maxEventBytes } : undefined,
        });
        let server: Awaited<ReturnType<typeof startServer>>;
        try {
          server = await startServer({
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
          process.stderr.write(`error: cannot listen on ${config.host}:${config.port}: ${hint}\n`);
          await broker.close();
          process.exit(2);
        }
        logger.info({ url: server.url, store: store.description }, "cebus listening");
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
          logger.flush();
          process.exit(0);
        };
        process.on("SIGTERM", () => void stop("SIGTERM"));
        process.on("SIGINT", () => void stop("SIGINT"));
      },
    );
}
