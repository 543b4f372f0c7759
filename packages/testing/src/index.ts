export { type BrokerOptions, type BrokerProcess, type CliResult, cliPath, repoRoot, runCli, startBroker } from "./broker-process.js";
export { type RawClients, consumeAndAck, createRawClients, testEvent } from "./clients.js";
