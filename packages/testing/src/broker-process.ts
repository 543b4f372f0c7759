import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { repoFile } from "./repo.js";

export { cliPath, repoRoot } from "./repo.js";

export interface BrokerOptions {
  /** "sqlite" (a temp data dir, the default), "memory", or a store URL such as redis://127.0.0.1:6379/0. */
  store?: "memory" | "sqlite" | (string & {});
  /** Reuse this data dir (kept on dispose). */
  dataDir?: string;
  port?: number;
  env?: Record<string, string>;
  args?: string[];
}

/** A real `cebus serve` process on loopback. */
export interface BrokerProcess extends AsyncDisposable {
  readonly url: string;
  readonly port: number;
  readonly dataDir: string | undefined;
  readonly pid: number;
  /** Sends a signal and waits for the process to exit (SIGKILL by default). */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts the broker again on the same data dir and, when it is free, the same port. */
  restart(): Promise<void>;
  /** SIGTERM and wait: a graceful stop. */
  stop(): Promise<void>;
  /** SIGSTOP / SIGCONT. */
  pause(): void;
  resume(): void;
  /** Everything the process printed so far. */
  output(): string;
}

/**
 * Starts `cebus serve` (the repository's built binary) on a free port and waits until it listens. Repo-internal:
 * an installed @cebus/testing uses startTestBroker.
 */
export async function startBroker(options: BrokerOptions = {}): Promise<BrokerProcess> {
  const cli = repoFile("packages/cli/dist/bin.js", "startBroker");
  const external = options.store !== undefined && options.store !== "memory" && options.store !== "sqlite";
  const ownDir = options.store !== "memory" && !external && !options.dataDir;
  const dataDir =
    options.store === "memory" || external
      ? undefined
      : (options.dataDir ?? mkdtempSync(join(tmpdir(), "cebus-test-")));
  const store = external ? (options.store as string) : dataDir ? `sqlite:${dataDir}` : "memory";
  const run: Run = { cli, store, options, output: "", port: options.port ?? 0, url: "" };
  await launch(run);
  return brokerHandle(run, dataDir, ownDir);
}

/** One broker across its restarts: the current process, its address, and everything printed so far. */
interface Run {
  readonly cli: string;
  /** The --store argument. */
  readonly store: string;
  readonly options: BrokerOptions;
  output: string;
  port: number;
  url: string;
  child?: ChildProcess;
  exited?: Promise<void>;
}

/**
 * The Node flags the binary's shebang gives (`#!/usr/bin/env -S node --flag ...`): an installed `cebus` runs with
 * them, so the broker started here does too.
 */
export function nodeFlagsOf(cli: string): string[] {
  const first = readFileSync(cli, "utf8").split("\n", 1)[0] ?? "";
  const match = /^#!.*\bnode((?:\s+--\S+)*)\s*$/.exec(first);
  return match?.[1]?.trim().split(/\s+/).filter(Boolean) ?? [];
}

/** Spawns `cebus serve` on `run.port` and waits until it listens; then `run.url` and `run.port` are its address. */
async function launch(run: Run): Promise<void> {
  const args = [
    ...nodeFlagsOf(run.cli),
    run.cli,
    "serve",
    "--host",
    "127.0.0.1",
    "--port",
    String(run.port),
    "--store",
    run.store,
    ...(run.options.args ?? []),
  ];
  const child = spawn(process.execPath, args, {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...run.options.env },
  });
  run.child = child;
  run.exited = new Promise((resolve) => child.once("exit", () => resolve()));
  run.url = await listening(child, run);
  run.port = Number(new URL(run.url).port);
}

/**
 * The URL of the "cebus listening" log line; fails when the process exits first or after 15 s. Everything the
 * process prints is appended to `run.output`.
 */
function listening(child: ChildProcess, run: Run): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    let buffered = "";
    const timer = setTimeout(
      () => reject(new Error(`cebus serve did not start within 15 s; output:\n${run.output}`)),
      15_000,
    );
    child.stdout?.on("data", (chunk: Buffer) => {
      run.output += chunk.toString();
      buffered += chunk.toString();
      let newline = buffered.indexOf("\n");
      while (newline >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        newline = buffered.indexOf("\n");
        if (line.includes('"cebus listening"')) {
          clearTimeout(timer);
          resolve((JSON.parse(line) as { url: string }).url);
        }
      }
    });
    child.stderr?.on("data", (chunk: Buffer) => {
      run.output += chunk.toString();
    });
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`cebus serve exited (${signal ?? code}) before listening; output:\n${run.output}`));
    });
  });
}

/** Sends a signal to the current process, unless it has exited, and waits for it to exit. */
async function kill(run: Run, signal: NodeJS.Signals): Promise<void> {
  const child = run.child as ChildProcess;
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill(signal);
  await run.exited;
}

/** Kills the process and launches it again on the same port, or on any port when that one is taken. */
async function restart(run: Run): Promise<void> {
  await kill(run, "SIGKILL");
  try {
    await launch(run);
  } catch (error) {
    if (!/EADDRINUSE|in use/.test(String(error))) throw error;
    run.port = 0; // the old port is taken by someone else now: take any
    await launch(run);
  }
}

function brokerHandle(run: Run, dataDir: string | undefined, ownDir: boolean): BrokerProcess {
  const child = () => run.child as ChildProcess;
  const broker: BrokerProcess = {
    get url() {
      return run.url;
    },
    get port() {
      return run.port;
    },
    dataDir,
    get pid() {
      return child().pid ?? 0;
    },
    kill: (signal = "SIGKILL") => kill(run, signal),
    restart: () => restart(run),
    stop: () => broker.kill("SIGTERM"),
    pause: () => void child().kill("SIGSTOP"),
    resume: () => void child().kill("SIGCONT"),
    output: () => run.output,
    async [Symbol.asyncDispose]() {
      if (child().signalCode === "SIGSTOP") child().kill("SIGCONT");
      await broker.kill();
      if (ownDir && dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return broker;
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  input?: string;
  timeoutMs?: number;
  env?: Record<string, string>;
  cwd?: string;
}

/** Runs a program to its end (killed after `timeoutMs`, 30 s by default) and returns its exit code and output. */
export function runProcess(command: string, args: string[], options: RunOptions = {}): Promise<CliResult> {
  const child = spawn(command, args, {
    stdio: ["pipe", "pipe", "pipe"],
    env: { ...process.env, ...options.env },
    cwd: options.cwd,
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  child.stdin.end(options.input ?? "");
  const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 30_000);
  return new Promise((resolve) => {
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Runs the repository's built `cebus` binary with arguments and returns its exit code and output. */
export function runCli(args: string[], options: RunOptions & { url?: string } = {}): Promise<CliResult> {
  const all = options.url ? ["--url", options.url, ...args] : args;
  return runProcess(process.execPath, [repoFile("packages/cli/dist/bin.js", "runCli"), ...all], options);
}
