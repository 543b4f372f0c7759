#!/usr/bin/env -S node --max-semi-space-size=16
import { readFileSync } from "node:fs";
import { Command } from "commander";
import { registerConsume } from "./commands/consume.js";
import { registerDlq } from "./commands/dlq.js";
import { registerPublish } from "./commands/publish.js";
import { registerRead } from "./commands/read.js";
import { registerServe } from "./commands/serve.js";
import { registerSubscriptions } from "./commands/subscriptions.js";
import { registerTopics } from "./commands/topics.js";

const { version } = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
  version: string;
};

const program = new Command()
  .name("cebus")
  .description("Cebus, a CloudEvents bus: run the broker and work with topics, subscriptions and events")
  .version(version)
  .option("--url <url>", "the broker's URL", process.env.CEBUS_URL ?? "http://127.0.0.1:8080")
  // Usage errors are one line that says where help is, and exit 2 (help and --version exit 0).
  .configureOutput({ outputError: (text, write) => write(`${text.trimEnd()} (see --help)\n`) })
  .exitOverride((error) => process.exit(error.exitCode === 0 ? 0 : 2));

registerServe(program);
registerTopics(program);
registerSubscriptions(program);
registerPublish(program);
registerConsume(program);
registerRead(program);
registerDlq(program);

await program.parseAsync();
// Client commands are done here; connections kept for reuse must not hold the process open. (`serve` never
// gets here: its action resolves while the server runs, and it exits from its signal handlers.)
if (program.args[0] !== "serve") process.exit(process.exitCode ?? 0);
