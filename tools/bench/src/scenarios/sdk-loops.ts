import { execFileSync, spawn } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createClient } from "@cebus/client";
import type { BenchContext } from "../context.js";
import { createProgress, sampleProcess } from "../measure.js";
import { type RunResult, round } from "../result.js";

/**
 * Scenario 8: each SDK's plain loops, as a user writes them (tools/bench/sdk-loops/): publish N events of 256 B the
 * way the SDK batches by itself (Node: publish() in a loop, awaited together; Go: 64 goroutines calling Publish;
 * Python: publish futures gathered), then consume them acking each (acks not awaited one by one). Each SDK runs as
 * its own process against the same broker, one after the other, on a topic and subscription of its own.
 */

const root = fileURLToPath(new URL("../../../../", import.meta.url));
const loops = join(root, "tools/bench/sdk-loops");

interface Loop {
  sdk: string;
  command: () => [string, string[], string];
}

const sdks: Loop[] = [
  { sdk: "node", command: () => [process.execPath, [join(loops, "loop.mjs")], loops] },
  { sdk: "go", command: () => ["go", ["run", "."], join(loops, "go")] },
  {
    sdk: "python",
    command: () => [pythonOfTheSdk(), [join(loops, "loop.py")], loops],
  },
];

/** The interpreter of the Python SDK's environment (tools/sdks/python-env.sh installs it on first use). */
function pythonOfTheSdk(): string {
  return execFileSync("bash", [join(root, "tools/sdks/python-env.sh")], { encoding: "utf8" }).trim();
}

function run(command: string, args: string[], cwd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (chunk) => {
      out += chunk;
    });
    child.on("error", reject);
    child.on("exit", (code) =>
      code === 0 ? resolve(out) : reject(new Error(`${command} ${args.join(" ")} exited with ${code}`)),
    );
  });
}

async function oneSdk(ctx: BenchContext, loop: Loop, count: number): Promise<RunResult> {
  const client = createClient({ url: ctx.broker.url });
  const topic = `bench-sdk-${loop.sdk}`;
  await client.admin.createTopic(topic, { partitions: 4 });
  await client.admin.createSubscription(`${topic}-sub`, { topic, startAt: "earliest" });
  await client.close();
  const [command, args, cwd] = loop.command();
  const before = sampleProcess(ctx.broker.pid);
  const started = performance.now();
  const out = await run(command, [...args, ctx.broker.url, topic, `${topic}-sub`, String(count)], cwd);
  const seconds = (performance.now() - started) / 1000;
  const after = sampleProcess(ctx.broker.pid);
  const { publishSeconds, consumeSeconds } = JSON.parse(out.trim().split("\n").pop() as string);
  return {
    scenario: "8 SDK loops (publish, then consume + ack)",
    system: `${loop.sdk} sdk`,
    events: count,
    seconds: round(seconds, 2) as number,
    eventsPerSecond: Math.round(count / publishSeconds),
    brokerCpuPercent: Math.round(((after.cpuMs - before.cpuMs) / (seconds * 1000)) * 100),
    brokerPeakRssMb: Math.round(after.peakRssMb),
    notes: {
      publishPerSecond: Math.round(count / publishSeconds),
      consumePerSecond: Math.round(count / consumeSeconds),
    },
  };
}

export async function sdkLoops(ctx: BenchContext): Promise<RunResult[]> {
  const count = ctx.quick ? 5_000 : 20_000;
  const progress = createProgress("sdk loops");
  const results: RunResult[] = [];
  for (const loop of sdks) {
    progress.update(`${loop.sdk}: ${count} events`);
    results.push(await oneSdk(ctx, loop, count));
  }
  progress.done(
    results.map((r) => `${r.system} ${r.notes?.publishPerSecond}/${r.notes?.consumePerSecond}`).join(", "),
  );
  return results;
}
