#!/usr/bin/env node
// The browser client under test: a Node shim that speaks the client protocol (cebus.conformance.v1) on
// stdin/stdout and hands every command to a page in Debian's headless Chromium, where @cebus/client's browser
// build carries it out (page.ts). The page has an origin of its own, so brokers must allow it (--cors-origins).
import { readFileSync } from "node:fs";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { base64Decode, base64Encode } from "@bufbuild/protobuf/wire";
import { type ClientCommand, ClientCommandSchema, ClientEventSchema } from "@cebus/proto/conformance";
import { openBrowserPage } from "@cebus/testing";
import { readFrames, writeFrame } from "../../src/framing.js";
import type { PageBridge } from "./page.js";

const tab = await openBrowserPage({
  "/": '<!doctype html><meta charset="utf-8"><title>cebus conformance</title><script type="module" src="/page.js"></script>',
  "/page.js": readFileSync(new URL("./page.bundle.js", import.meta.url)),
});
await tab.page.exposeFunction("cebusEmit", (frames: string[]) => {
  for (const frame of frames) {
    writeFrame(process.stdout, ClientEventSchema, fromBinary(ClientEventSchema, base64Decode(frame)));
  }
});
tab.page.on("console", (message) => {
  if (message.type() === "error") process.stderr.write(`page: ${message.text()}\n`);
});
await tab.page.waitForFunction(() => "cebusRun" in globalThis);

/** The page failed (it crashed or was closed): each of these commands fails with the reason. */
function failed(commands: ClientCommand[], error: unknown): void {
  const message = `the browser page failed: ${error instanceof Error ? error.message : String(error)}`;
  for (const command of commands) {
    const result = {
      $typeName: "cebus.conformance.v1.CommandResult" as const,
      id: command.id,
      published: [],
    };
    writeFrame(
      process.stdout,
      ClientEventSchema,
      create(ClientEventSchema, {
        event: { case: "result", value: { ...result, errorCode: "unknown", errorMessage: message } },
      }),
    );
  }
}

// Commands that arrive together go to the page in one call.
let pending: ClientCommand[] = [];
const flush = () => {
  const commands = pending;
  pending = [];
  const frames = commands.map((command) => base64Encode(toBinary(ClientCommandSchema, command)));
  tab.page
    .evaluate((batch) => (globalThis as unknown as PageBridge).cebusRun(batch), frames)
    .catch((error: unknown) => failed(commands, error));
};
for await (const command of readFrames(process.stdin, ClientCommandSchema)) {
  if (pending.length === 0) setImmediate(flush);
  pending.push(command);
}
await tab.page.evaluate(() => (globalThis as unknown as PageBridge).cebusClose()).catch(() => {});
await tab.close();
