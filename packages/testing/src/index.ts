// For users (README.md): a real broker in the test's own process, and raw wire clients.

// Repo-internal: these run the repository's built CLI and install servers with tools/servers/install.sh; outside a
// checkout they throw a CebusError that says so.
export {
  type BrokerOptions,
  type BrokerProcess,
  type CliResult,
  cliPath,
  type RunOptions,
  repoRoot,
  runCli,
  runProcess,
  startBroker,
} from "./broker-process.js";
export {
  type BrowserPage,
  chromiumPath,
  ensureChromiumInstalled,
  openBrowserPage,
} from "./browser.js";
export { consumeAndAck, createRawClients, type RawClients, testEvent } from "./clients.js";
export {
  ensureNatsInstalled,
  type NatsServer,
  type NatsServerOptions,
  startNats,
} from "./nats-server.js";
export { ensurePostgresInstalled, type PostgresServer, startPostgres } from "./postgres-server.js";
export {
  ensureRedisInstalled,
  freePort,
  type RedisServer,
  type RedisServerOptions,
  startRedis,
} from "./redis-server.js";
export { startTestBroker, type TestBroker, type TestBrokerOptions } from "./test-broker.js";
