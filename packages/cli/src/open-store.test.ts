import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { ConfigError } from "./config.js";
import { openStore } from "./open-store.js";

const dirs: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), "cebus-open-store-"));
  dirs.push(dir);
  return dir;
};
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** The ConfigError that opening `url` rejects with (fails the test when it opens). */
async function configError(url: string): Promise<ConfigError> {
  const error = await openStore(url).then(
    async (store) => {
      await store.close();
      throw new Error(`opening ${url} succeeded`);
    },
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(ConfigError);
  return error as ConfigError;
}

describe("openStore: an embedded store that cannot be used is a ConfigError", () => {
  it("a data directory under a regular file names the directory", async () => {
    const file = join(tempDir(), "plain-file");
    writeFileSync(file, "x");
    expect((await configError(`sqlite:${file}/data`)).message).toBe(
      `cannot create the data directory ${file}/data (a part of the path is a file, not a directory); use a directory you can write to`,
    );
  });

  it("a corrupt database file names the file and what to do", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "cebus.db"), Buffer.alloc(4096, 0xa5));
    expect((await configError(`sqlite:${dir}`)).message).toBe(
      `${join(dir, "cebus.db")} is not a Cebus database or is corrupt; move it out of ${dir} (or restore a backup) and start again`,
    );
  });

  it("a data directory that is open already names the directory and the process", async () => {
    const dir = tempDir();
    const first = await openStore(dir);
    expect((await configError(`sqlite:${dir}`)).message).toMatch(
      new RegExp(`^data directory ${dir} is in use by this process \\(pid ${process.pid}\\)`),
    );
    await first.close();
    await (await openStore(`sqlite:${dir}`)).close();
  });
});

describe("the built CLI on a Node without node:sqlite (Node 20)", () => {
  const bin = fileURLToPath(new URL("../dist/bin.js", import.meta.url));
  /** Runs the built CLI with a module hook that makes node:sqlite missing, as it is before Node 22.13. */
  function runWithoutSqlite(args: string[]) {
    const hook = join(tempDir(), "no-sqlite.mjs");
    writeFileSync(
      hook,
      `import { registerHooks } from "node:module";
       registerHooks({ resolve(specifier, context, next) {
         if (specifier === "node:sqlite") {
           throw Object.assign(new Error("No such built-in module: node:sqlite"), { code: "ERR_UNKNOWN_BUILTIN_MODULE" });
         }
         return next(specifier, context);
       } });`,
    );
    return spawnSync(process.execPath, ["--import", hook, bin, ...args], {
      encoding: "utf8",
      timeout: 20_000,
    });
  }

  it("a client-only command runs: it never loads a store package", () => {
    const result = runWithoutSqlite(["topics", "list", "--url", "http://127.0.0.1:1"]);
    expect(result.stderr).toBe(
      "error: cannot reach the Cebus broker at http://127.0.0.1:1; start it with `cebus serve` or pass --url\n",
    );
    expect(result.status).toBe(1);
  });

  it("serve with the embedded store is one line saying what to run instead, exit 2", () => {
    const result = runWithoutSqlite(["serve", "--store", "memory", "--port", "0"]);
    expect(result.stderr).toBe(
      `error: the embedded store (memory, sqlite:DIR) needs node:sqlite, which Node ${process.versions.node} lacks; run cebus serve on Node 22.13 or later, or use a redis://, postgres:// or nats:// store\n`,
    );
    expect(result.status).toBe(2);
  });

  it("?sync takes full or normal and ?thread main or worker, and nothing else", async () => {
    const dir = tempDir();
    expect((await configError(`sqlite:${dir}?sync=sometimes`)).message).toBe(
      `store 'sqlite:${dir}?sync=sometimes': the embedded store takes only ?sync=full (the default) or ?sync=normal, and ?thread=main (the default) or ?thread=worker`,
    );
    expect((await configError(`sqlite:${dir}?fsync=1`)).message).toMatch(/takes only \?sync=full/);
    expect((await configError(`sqlite:${dir}?thread=2`)).message).toMatch(/\?thread=worker/);
    for (const query of ["sync=full", "sync=normal", "thread=worker", "sync=normal&thread=main"]) {
      await (await openStore(`sqlite:${dir}?${query}`)).close();
    }
  });
});
