import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./redis-server.js";
import { installServer } from "./repo.js";

/** A real `nats-server -js` on a free loopback port with its own temp store dir, for tests and the runners. */
export interface NatsServer extends AsyncDisposable {
  readonly url: string;
  readonly port: number;
  /** How the server's file store reaches the disk, for reports. */
  readonly durability: string;
  /** kill -9 (or another signal) without cleanup; restart() brings it back on the same port and store dir. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** Installs nats-server from Debian's packages when it is missing (tools/servers/install.sh). */
export function ensureNatsInstalled(): void {
  installServer("nats-server", "startNats");
}

export interface NatsServerOptions {
  /** Start without JetStream (to test the refusal of such a server). */
  jetstream?: boolean;
  /** Accounts config text (authorization), appended to the server config. */
  extraConfig?: string;
}

export async function startNats(options: NatsServerOptions = {}): Promise<NatsServer> {
  ensureNatsInstalled();
  const dir = mkdtempSync(join(tmpdir(), "cebus-nats-"));
  const port = await freePort();
  const config = join(dir, "nats.conf");
  writeFileSync(
    config,
    [
      `listen: "127.0.0.1:${port}"`,
      options.jetstream === false ? "" : `jetstream { store_dir: "${join(dir, "store")}" }`,
      options.extraConfig ?? "",
    ].join("\n"),
  );
  let child: ChildProcess;
  let exited: Promise<void>;
  let output = "";

  async function launch(): Promise<void> {
    output = "";
    child = spawn("nats-server", ["-c", config], { stdio: ["ignore", "pipe", "pipe"] });
    exited = new Promise((resolve) => child.once("exit", () => resolve()));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`nats-server did not start within 15 s:\n${output}`)),
        15_000,
      );
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes("Server is ready")) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout?.on("data", onData);
      child.stderr?.on("data", onData);
      child.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`nats-server exited (${code}) before it was ready:\n${output}`));
      });
    });
  }

  await launch();
  const server: NatsServer = {
    url: `nats://127.0.0.1:${port}`,
    port,
    durability:
      "nats-server -js, file storage, sync_interval at its default (2 min per the NATS docs): an acknowledged write is in the kernel before the ack, so kill -9 loses nothing; a machine crash may lose up to the interval",
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
