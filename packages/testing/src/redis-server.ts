import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { installServer } from "./repo.js";

export interface RedisServerOptions {
  /** AOF fsync policy: "always" loses no acknowledged write on kill -9; "everysec" may lose the last second. */
  appendfsync?: "always" | "everysec";
}

/** A real redis-server on a free loopback port with its own temp dir (AOF on), for tests and the runners. */
export interface RedisServer extends AsyncDisposable {
  readonly url: string;
  readonly port: number;
  readonly appendfsync: "always" | "everysec";
  /** kill -9 (or another signal) without cleanup; restart() brings it back on the same port and data. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Installs redis-server from Debian's packages when it is missing (tools/servers/install.sh). */
export function ensureRedisInstalled(): void {
  installServer("redis-server", "startRedis");
}

export async function startRedis(options: RedisServerOptions = {}): Promise<RedisServer> {
  ensureRedisInstalled();
  const appendfsync = options.appendfsync ?? "always";
  const dir = mkdtempSync(join(tmpdir(), "cebus-redis-"));
  const port = await freePort();
  let child: ChildProcess;
  let exited: Promise<void>;
  let output = "";

  async function launch(): Promise<void> {
    output = "";
    child = spawn(
      "redis-server",
      [
        "--port",
        String(port),
        "--bind",
        "127.0.0.1",
        "--dir",
        dir,
        "--appendonly",
        "yes",
        "--appendfsync",
        appendfsync,
        "--save",
        "",
        "--daemonize",
        "no",
        "--protected-mode",
        "yes",
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    exited = new Promise((resolve) => child.once("exit", () => resolve()));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`redis-server did not start within 10 s:\n${output}`)),
        10_000,
      );
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes("Ready to accept connections")) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout?.on("data", onData);
      child.stderr?.on("data", onData);
      child.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`redis-server exited (${code}) before it was ready:\n${output}`));
      });
    });
  }

  await launch();
  const server: RedisServer = {
    url: `redis://127.0.0.1:${port}`,
    port,
    appendfsync,
    async kill(signal = "SIGKILL") {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      await exited;
    },
    restart: () => launch(),
    async stop() {
      await server.kill("SIGTERM");
    },
    async [Symbol.asyncDispose]() {
      await server.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return server;
}
