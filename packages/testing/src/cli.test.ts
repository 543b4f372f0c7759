import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { cliPath, runCli, startBroker } from "./index.js";

/** Resolves once `ready()` holds, polling every 20 ms (fails the test after 20 s). */
async function until(ready: () => boolean): Promise<void> {
  for (let waited = 0; !ready(); waited += 20) {
    if (waited > 20_000) throw new Error("timed out waiting for the consumer's first events");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe("the cebus binary (real processes)", () => {
  it("topics, subscriptions, publish --count and consume --json work end to end", async () => {
    await using broker = await startBroker({ store: "memory" });
    const cli = (...args: string[]) => runCli(args, { url: broker.url });
    expect((await cli("topics", "create", "orders", "--partitions", "3")).stdout).toContain(
      "topic orders ready (3 partitions)",
    );
    expect(
      (await cli("subscriptions", "create", "billing", "--topic", "orders", "--start", "earliest")).code,
    ).toBe(0);
    expect((await cli("topics", "list")).stdout).toMatch(/orders\s+3/);
    expect((await cli("subscriptions", "list", "--json")).stdout).toContain('"name":"billing"');
    const published = await cli(
      "publish",
      "orders",
      "--type",
      "load.test",
      "--source",
      "/cli",
      "--count",
      "1000",
      "--id",
      "run1",
    );
    expect(published.code).toBe(0);
    expect(published.stderr).toMatch(/publish orders: 1000 events in [\d.]+ s \(\d+ events\/s\)/);
    const consumed = await cli("consume", "--subscription", "billing", "--max", "1000", "--json");
    expect(consumed.code).toBe(0);
    const lines = consumed.stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    expect(lines).toHaveLength(1000);
    expect(new Set(lines.map((e) => e.id)).size).toBe(1000);
    expect(lines[0]).toMatchObject({
      specversion: "1.0",
      type: "load.test",
      source: "/cli",
      datacontenttype: "application/json",
    });
    expect(JSON.parse((await cli("subscriptions", "stats", "billing")).stdout)).toMatchObject({
      backlog: 0,
      inFlight: 0,
    });
    expect((await cli("subscriptions", "delete", "billing")).code).toBe(0);
    expect((await cli("topics", "delete", "orders")).code).toBe(0);
  });

  it("consume --max rides out a broker restart: it reconnects and prints exactly --max events", async () => {
    await using broker = await startBroker({ store: "sqlite" }); // its own data dir, kept across restart()
    const cli = (...args: string[]) => runCli(args, { url: broker.url });
    expect((await cli("topics", "create", "jobs")).code).toBe(0);
    expect(
      (await cli("subscriptions", "create", "workers", "--topic", "jobs", "--start", "earliest")).code,
    ).toBe(0);
    const publish = (id: string) =>
      cli("publish", "jobs", "--type", "job", "--source", "/cli", "--count", "5", "--id", id);
    expect((await publish("before")).code).toBe(0);
    const consume = spawn(
      process.execPath,
      [cliPath, "--url", broker.url, "consume", "--subscription", "workers", "--max", "10", "--json"],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let stdout = "";
    let stderr = "";
    consume.stdout.on("data", (chunk) => (stdout += chunk));
    consume.stderr.on("data", (chunk) => (stderr += chunk));
    const exited = once(consume, "exit");
    await until(() => stdout.split("\n").length > 5); // the first five, printed and acked
    await new Promise((resolve) => setTimeout(resolve, 500)); // their acks confirmed
    await broker.restart(); // kill -9 and start again on the same data (and port)
    expect((await publish("after")).code).toBe(0);
    const [code] = await exited;
    expect(code, stderr).toBe(0);
    const ids = stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line).id as string);
    expect(ids).toHaveLength(10);
    expect(new Set(ids).size).toBe(10);
    expect(stderr).toContain("reconnecting");
  });

  it("publishing to an unknown topic exits 1 with a message naming the topic and the fix", async () => {
    await using broker = await startBroker({ store: "memory" });
    const result = await runCli(["publish", "nope", "--type", "t", "--source", "/s"], { url: broker.url });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      "error: topic 'nope' does not exist; create it first with `cebus topics create nope`\n",
    );
  });

  it("an unreachable broker gives one clear error", async () => {
    const result = await runCli(["topics", "list"], { url: "http://127.0.0.1:9" });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("cannot reach the Cebus broker at http://127.0.0.1:9");
  });

  it("serve exits 2 for a malformed config file or a bad store URL, naming what to fix", async () => {
    const config = join(mkdtempSync(join(tmpdir(), "cebus-cli-")), "bad.json");
    writeFileSync(config, JSON.stringify({ port: 0, colour: "blue" }));
    const bad = await runCli(["serve", "--config", config]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain(`config file ${config}, key 'colour': unknown setting 'colour'`);
    const store = await runCli(["serve", "--port", "0", "--store", "ftp://somewhere"]);
    expect(store.code).toBe(2);
    expect(store.stderr).toContain("is not a known store URL");
  });

  it("serve stops gracefully on SIGTERM: logs cebus stopping and exits 0", async () => {
    const broker = await startBroker({ store: "memory" });
    await broker.stop();
    expect(broker.output()).toContain('"msg":"cebus stopping"');
    expect(broker.output()).toContain('"msg":"cebus stopped"');
    await broker[Symbol.asyncDispose]();
  });

  it("a crash of serve logs its cause as the last line (the logger writes synchronously), exit 1", async () => {
    // An uncaught error thrown inside the running broker process, 300 ms after it starts.
    const inject = "data:text/javascript,setTimeout(()=>{throw new Error('injected crash')},300)";
    const child = spawn(process.execPath, [
      "--import",
      inject,
      cliPath,
      "serve",
      "--store",
      "memory",
      "--port",
      "0",
    ]);
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    const [code] = (await once(child, "exit")) as [number | null];
    expect(code).toBe(1);
    const last = JSON.parse(output.trimEnd().split("\n").at(-1) ?? "{}");
    expect(last).toMatchObject({ level: 60, msg: "cebus crashed", err: { message: "injected crash" } });
  });

  it("/healthz and /readyz answer over plain HTTP", async () => {
    await using broker = await startBroker({ store: "memory" });
    expect(await (await fetch(`${broker.url}/healthz`)).text()).toBe("ok\n");
    expect((await fetch(`${broker.url}/readyz`)).status).toBe(200);
  });
});
