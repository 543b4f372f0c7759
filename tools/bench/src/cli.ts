#!/usr/bin/env node
// pnpm bench: starts `cebus serve` as its own process, drives it with @cebus/client from this process, runs the
// raw backend baseline in the same invocation, prints a table and writes JSON + Markdown. Never a test: nothing
// here asserts on time.
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { startBroker, startNats, startPostgres, startRedis } from "@cebus/testing";
import type { BenchContext } from "./context.js";
import { machine, markdown, writeResults } from "./report.js";
import type { RunResult } from "./result.js";
import { burst } from "./scenarios/burst.js";
import { fanout } from "./scenarios/fanout.js";
import { latency } from "./scenarios/latency.js";
import { manyTopics } from "./scenarios/many-topics.js";
import { ordered } from "./scenarios/ordered.js";
import { roundTrip } from "./scenarios/round-trip.js";
import { sdkLoops } from "./scenarios/sdk-loops.js";
import { throughput } from "./scenarios/throughput.js";
import { throughputRawNats } from "./scenarios/throughput-raw-nats.js";
import { throughputRawPostgres } from "./scenarios/throughput-raw-postgres.js";
import { throughputRawRedis } from "./scenarios/throughput-raw-redis.js";
import { throughputRawSqlite } from "./scenarios/throughput-raw-sqlite.js";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const usage = `usage: pnpm bench [--quick] [--store sqlite|memory|redis|postgres|nats|URL] [--scenarios 1,2,...] [--json FILE] [--profile DIR]
  1 throughput  2 latency  3 fan-out  4 ordered  5 many topics  6 burst  7 single publish round trip
  8 SDK loops: the Node, Go and Python SDKs' plain publish and consume loops (not in the default set)`;
const argv = process.argv.slice(2).filter((arg, i) => !(i === 0 && arg === "--"));
let values: {
  quick?: boolean;
  store?: string;
  scenarios?: string;
  json?: string;
  profile?: string;
  help?: boolean;
};
try {
  ({ values } = parseArgs({
    args: argv,
    options: {
      quick: { type: "boolean" },
      store: { type: "string" },
      scenarios: { type: "string" },
      json: { type: "string" },
      profile: { type: "string" },
      help: { type: "boolean" },
    },
  }));
} catch (error) {
  console.error(`${(error as Error).message}\n${usage}`);
  process.exit(2);
}
if (values.help) {
  console.log(usage);
  process.exit(0);
}
const store = values.store ?? "sqlite";
const knownStore =
  ["sqlite", "memory", "redis", "postgres", "nats"].includes(store) ||
  /^(redis|postgres|postgresql|nats):\/\//.test(store);
if (!knownStore) {
  console.error(
    `--store ${store}: use sqlite, memory, redis, postgres or nats (the bench starts its own server), or a redis://, postgres:// or nats:// URL`,
  );
  process.exit(2);
}
// --store redis: a redis-server of our own (AOF, appendfsync everysec as most deployments run it)
const redisServer = store === "redis" ? await startRedis({ appendfsync: "everysec" }) : undefined;
const redisUrl = redisServer ? `${redisServer.url}/0` : store.startsWith("redis://") ? store : undefined;
// --store postgres: a PostgreSQL cluster of our own (synchronous_commit on)
const postgresServer = store === "postgres" ? await startPostgres() : undefined;
const postgresUrl = postgresServer
  ? postgresServer.url
  : /^postgres(ql)?:\/\//.test(store)
    ? store
    : undefined;
// --store nats: a nats-server -js of our own (file storage)
const natsServer = store === "nats" ? await startNats() : undefined;
const natsUrl = natsServer ? natsServer.url : store.startsWith("nats://") ? store : undefined;
const quick = values.quick ?? false;
const selected = new Set((values.scenarios ?? "1,2,3,4,5,6,7").split(",").map((s) => s.trim()));
const storeName = store.startsWith("redis")
  ? "redis"
  : store.startsWith("postgres")
    ? "postgres"
    : store.startsWith("nats")
      ? "nats"
      : store;
const suffix = storeName === "sqlite" ? "" : `-${storeName}`;
const jsonPath =
  values.json ?? join(root, "tools/bench/results", `${quick ? "quick" : "full"}${suffix}.json`);

const scenarios: [
  string,
  (ctx: BenchContext) => Promise<RunResult | RunResult[]>,
  ((ctx: BenchContext) => Promise<RunResult>)?,
][] = [
  [
    "1",
    throughput,
    store === "sqlite"
      ? throughputRawSqlite
      : redisUrl
        ? (ctx: BenchContext) => throughputRawRedis(ctx, redisUrl)
        : postgresUrl
          ? (ctx: BenchContext) => throughputRawPostgres(ctx, postgresUrl)
          : natsUrl
            ? (ctx: BenchContext) => throughputRawNats(ctx, natsUrl)
            : undefined,
  ],
  ["2", latency],
  ["3", fanout],
  ["4", ordered],
  ["5", manyTopics],
  ["6", burst],
  ["7", roundTrip],
  ["8", sdkLoops],
];

const meta = {
  ...machine(),
  store: redisServer
    ? "redis (its own redis-server on loopback, AOF appendfsync everysec)"
    : postgresServer
      ? "postgres (its own PostgreSQL cluster on loopback, synchronous_commit on)"
      : natsServer
        ? "nats (its own nats-server -js on loopback, file storage)"
        : store === "sqlite"
          ? "sqlite (the default durability: every publish and ack answered after an fsync of the WAL, group commit)"
          : store,
  mode: quick ? "quick" : "full",
  date: new Date().toISOString().slice(0, 10),
};
console.error(`cebus bench (${meta.mode}) on ${meta.cpu}, store ${store}`);
const results: RunResult[] = [];
for (const [id, run, baseline] of scenarios) {
  if (!selected.has(id)) continue;
  // a fresh broker per scenario, so one scenario's leftovers do not weigh on the next
  const broker = await startBroker({
    store: redisUrl ?? postgresUrl ?? natsUrl ?? (store === "memory" ? "memory" : "sqlite"),
    // --profile DIR: the broker writes a V8 CPU profile there when it exits (open it in Chrome DevTools)
    env: values.profile ? { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${values.profile}` } : undefined,
  });
  try {
    results.push(...[await run({ broker, store, quick })].flat());
  } finally {
    await broker.kill("SIGTERM"); // a clean stop, so a --profile is written
    await broker[Symbol.asyncDispose]();
  }
  if (baseline) results.push(await baseline({ broker, store, quick }));
}
await redisServer?.[Symbol.asyncDispose]();
await postgresServer?.[Symbol.asyncDispose]();
await natsServer?.[Symbol.asyncDispose]();
const md = markdown(results, meta);
writeResults(jsonPath, results, meta, md);
console.log(`\n${md}`);
console.log(`written: ${jsonPath} and ${jsonPath.replace(/\.json$/, ".md")}`);
