import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type BrokerProcess,
  type NatsServer,
  type PostgresServer,
  type RedisServer,
  startBroker,
  startNats,
  startPostgres,
  startRedis,
} from "@cebus/testing";

/** The broker under test: one the runner starts and controls (faults possible), or any running broker by URL. */
export interface BrokerTarget {
  /** The first broker: admin calls, proxies and faults go there. */
  readonly url: string;
  /** Every broker process (several over one shared backend); client i connects to urls[i % n]. */
  readonly urls: string[];
  readonly controllable: boolean;
  /**
   * The brokers keep their data across a restart (every store but memory). False for --broker URL: the runner
   * cannot restart it, so it cannot know.
   */
  readonly durable: boolean;
  readonly description: string;
  kill(signal: NodeJS.Signals): Promise<void>;
  restart(): Promise<void>;
  pause(): void;
  resume(): void;
  /**
   * Runs the brokers' periodic retention sweep every 250 ms (true, the default) or not at all during a case (false):
   * the sweep also drops dedupe entries older than the window, so a case that checks the append-time window check
   * must not have it help. Relaunches every broker process (graceful stop, same data and ports) when it changes.
   */
  useRetentionSweep(on: boolean): Promise<void>;
  /** The backend server, when the runner started one (redis): kill -9 it, and start it again on its data. */
  readonly backendServer?: { kill(): Promise<void>; restart(): Promise<void>; description: string };
  close(): Promise<void>;
}

export const backends = ["sqlite", "memory", "redis", "postgres", "nats"] as const;

/** The embedded store's default durability, as the matrix states it. */
const sqliteDurability =
  "the default durability: every publish and ack answered only after an fsync of the WAL, shared by concurrent operations (group commit)";
/** Backends several broker processes can share. */
export const sharedBackends = ["redis", "postgres", "nats"];

export async function startManagedBroker(backend: string, count = 1): Promise<BrokerTarget> {
  if (!(backends as readonly string[]).includes(backend)) {
    throw new Error(
      `backend '${backend}' is not available in this build; use ${backends.join(", ")}, or --broker URL`,
    );
  }
  // A backend server of our own: installed from Debian's packages when missing, on a free loopback port.
  const redis: RedisServer | undefined =
    backend === "redis" ? await startRedis({ appendfsync: "always" }) : undefined;
  const postgres: PostgresServer | undefined = backend === "postgres" ? await startPostgres() : undefined;
  const nats: NatsServer | undefined = backend === "nats" ? await startNats() : undefined;
  const store = redis
    ? `${redis.url}/0`
    : postgres
      ? postgres.url
      : nats
        ? nats.url
        : backend === "memory"
          ? "memory"
          : "sqlite";
  // sqlite: one data directory of our own, so brokers relaunched with other flags find the same database
  const dataDir = store === "sqlite" ? mkdtempSync(join(tmpdir(), "cebus-conformance-")) : undefined;
  let sweep = true;
  const start = (port?: number) => startBroker({ store, dataDir, port, args: brokerArgs(sweep) });
  let broker: BrokerProcess = await start();
  let others: BrokerProcess[] = [];
  for (let i = 1; i < count; i++) others.push(await start());
  const all = () => [broker, ...others];
  // the brokers reconnect by themselves; go on once every one reports ready again
  const allReady = () => Promise.all(all().map((b) => untilReady(b.url)));
  const server = redis
    ? {
        kill: () => redis.kill("SIGKILL"),
        restart: async () => {
          await redis.restart();
          await allReady();
        },
        description: `redis-server, appendfsync ${redis.appendfsync}: no acknowledged write lost on kill -9; with everysec up to 1 s may be`,
      }
    : postgres
      ? {
          kill: () => postgres.crash(),
          restart: async () => {
            await postgres.restart();
            await allReady();
          },
          description: "PostgreSQL, synchronous_commit on; faults are immediate stops (crash, no checkpoint)",
        }
      : nats
        ? {
            kill: () => nats.kill("SIGKILL"),
            restart: async () => {
              await nats.restart();
              await allReady();
            },
            description: nats.durability,
          }
        : undefined;
  const name = backend;
  return {
    get url() {
      return broker.url;
    },
    get urls() {
      return all().map((b) => b.url);
    },
    controllable: true,
    durable: store !== "memory",
    description: `${count > 1 ? `${count} x ` : ""}cebus serve --store ${name}${server ? ` (${server.description})` : store === "sqlite" ? ` (${sqliteDurability})` : ""} (pid ${broker.pid})`,
    kill: (signal) => broker.kill(signal),
    restart: () => broker.restart(),
    pause: () => broker.pause(),
    resume: () => broker.resume(),
    useRetentionSweep: async (on) => {
      if (on === sweep) return;
      sweep = on;
      const relaunched: BrokerProcess[] = [];
      for (const b of all()) relaunched.push(await relaunch(b, start));
      [broker, ...others] = relaunched as [BrokerProcess, ...BrokerProcess[]];
    },
    backendServer: server,
    close: async () => {
      for (const b of [broker, ...others]) await b[Symbol.asyncDispose]();
      if (dataDir) rmSync(dataDir, { recursive: true, force: true });
      await redis?.[Symbol.asyncDispose]();
      await postgres?.[Symbol.asyncDispose]();
      await nats?.[Symbol.asyncDispose]();
    },
  };
}

export function externalBroker(url: string): BrokerTarget {
  const refuse = () => {
    throw new Error("this case needs to control the broker process; it cannot run with --broker URL");
  };
  return {
    url,
    urls: [url],
    controllable: false,
    durable: false,
    description: `external broker at ${url}`,
    kill: async () => refuse(),
    restart: async () => refuse(),
    pause: refuse,
    resume: refuse,
    useRetentionSweep: async () => {}, // not ours to change: a case that needs it no sweep is as sharp as the broker allows
    close: async () => {},
  };
}

/** The runner's brokers sweep retention every 250 ms (retention cases need not wait a minute), or once an hour. */
function brokerArgs(sweep: boolean): string[] {
  return ["--retention-interval", sweep ? "250ms" : "1h", "--cors-origins", "*"];
}

/** Stops a broker gracefully and starts it again with the current flags, on its port when that is still free. */
async function relaunch(
  broker: BrokerProcess,
  start: (port?: number) => Promise<BrokerProcess>,
): Promise<BrokerProcess> {
  const port = broker.port;
  await broker.stop();
  try {
    return await start(port);
  } catch (error) {
    if (!/EADDRINUSE|in use/.test(String(error))) throw error;
    return start();
  }
}

/** Polls GET /readyz until it answers 200 (at most 20 s). */
async function untilReady(url: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const ok = await fetch(`${url}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`the broker at ${url} did not report ready within 20 s after the backend restarted`);
}
