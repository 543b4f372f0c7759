import { execFileSync } from "node:child_process";
import { chmodSync, chownSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./redis-server.js";
import { installServer } from "./repo.js";

/** A real PostgreSQL cluster (initdb) on a free loopback port with its own temp data dir, run as `postgres`. */
export interface PostgresServer extends AsyncDisposable {
  /** postgres://postgres@127.0.0.1:PORT/postgres (trust auth on loopback). */
  readonly url: string;
  readonly port: number;
  /** `pg_ctl stop -m immediate`: like a crash, no checkpoint. */
  crash(): Promise<void>;
  restart(): Promise<void>;
  /** Runs SQL as the superuser (psql). */
  sql(statement: string): string;
}

function binDir(): string {
  const versions = readdirSync("/usr/lib/postgresql").sort((a, b) => Number(b) - Number(a));
  return `/usr/lib/postgresql/${versions[0]}/bin`;
}

export function ensurePostgresInstalled(): void {
  installServer("postgresql", "startPostgres");
}

export async function startPostgres(): Promise<PostgresServer> {
  ensurePostgresInstalled();
  const bin = binDir();
  const root = mkdtempSync(join(tmpdir(), "cebus-pg-"));
  chmodSync(root, 0o755);
  const data = join(root, "data");
  const asPostgres = (command: string, args: string[]) => {
    // PostgreSQL refuses to run as root: run its tools as the postgres user when we are root.
    if (process.getuid?.() === 0)
      return execFileSync("runuser", ["-u", "postgres", "--", join(bin, command), ...args]);
    return execFileSync(join(bin, command), args);
  };
  if (process.getuid?.() === 0) {
    const uid = Number(execFileSync("id", ["-u", "postgres"]).toString());
    const gid = Number(execFileSync("id", ["-g", "postgres"]).toString());
    chownSync(root, uid, gid);
  }
  asPostgres("initdb", ["-D", data, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"]);
  const port = await freePort();
  const options = `-p ${port} -k ${root} -c listen_addresses=127.0.0.1 -c synchronous_commit=on -c fsync=on -c max_connections=200`;
  const start = () =>
    asPostgres("pg_ctl", ["-D", data, "-o", options, "-l", join(root, "log"), "-w", "-t", "30", "start"]);
  start();
  const server: PostgresServer = {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    async crash() {
      asPostgres("pg_ctl", ["-D", data, "-m", "immediate", "stop"]);
    },
    async restart() {
      start();
    },
    sql(statement) {
      return asPostgres("psql", [
        "-h",
        "127.0.0.1",
        "-p",
        String(port),
        "-U",
        "postgres",
        "-At",
        "-c",
        statement,
      ]).toString();
    },
    async [Symbol.asyncDispose]() {
      try {
        asPostgres("pg_ctl", ["-D", data, "-m", "immediate", "stop"]);
      } catch {
        // already stopped
      }
      rmSync(root, { recursive: true, force: true });
    },
  };
  return server;
}
