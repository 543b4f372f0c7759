import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { type CliResult, runCli, startBroker } from "./broker-process.js";

const dirs: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), "cebus-sqlite-dir-"));
  dirs.push(dir);
  return dir;
};
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** `cebus serve` on a store URL, expected to refuse to start (it is killed after 20 s if it starts). */
const serve = (store: string) =>
  runCli(["serve", "--host", "127.0.0.1", "--port", "0", "--store", store], { timeoutMs: 20_000 });

/** A refusal as a user sees it: exit 2, exactly this one line on stderr, nothing on stdout, no stack trace. */
function expectOneLineRefusal(result: CliResult, line: string): void {
  expect(result.stderr).toBe(`error: ${line}\n`);
  expect(result.stderr).not.toMatch(/^\s+at /m);
  expect(result.stdout).toBe("");
  expect(result.code).toBe(2);
}

describe("cebus serve on a sqlite data directory", () => {
  it("a second serve on a directory in use refuses to start, naming the directory and the holder's pid", async () => {
    await using first = await startBroker({ store: "sqlite" });
    const dir = first.dataDir as string;
    expect((await runCli(["topics", "create", "kept"], { url: first.url })).code).toBe(0);
    expectOneLineRefusal(
      await serve(`sqlite:${dir}`),
      `data directory ${dir} is in use by process ${first.pid}; stop that process first, or use another data directory`,
    );
    const listed = await runCli(["topics", "list"], { url: first.url });
    expect(listed.stdout).toContain("kept"); // the holder is untouched and still serving
  });

  it("after the holder is killed with SIGKILL, a new serve on the directory starts and has its data", async () => {
    await using broker = await startBroker({ store: "sqlite" });
    expect((await runCli(["topics", "create", "survivor"], { url: broker.url })).code).toBe(0);
    const killedPid = broker.pid;
    await broker.kill("SIGKILL");
    await broker.restart();
    expect(broker.pid).not.toBe(killedPid);
    expect((await runCli(["topics", "list"], { url: broker.url })).stdout).toContain("survivor");
  });

  it("a graceful stop releases the directory: the pid file is gone and a new serve starts", async () => {
    const dir = tempDir();
    await using broker = await startBroker({ dataDir: dir });
    expect(existsSync(join(dir, "cebus.db.lock"))).toBe(true);
    await broker.stop(); // at once: serve handles SIGTERM before it logs "cebus listening"
    expect(existsSync(join(dir, "cebus.db.lock"))).toBe(false);
    await broker.restart();
    expect((await runCli(["topics", "list"], { url: broker.url })).code).toBe(0);
  });

  it("a data directory under a regular file is one line naming it, exit 2", async () => {
    const file = join(tempDir(), "plain-file");
    writeFileSync(file, "not a directory");
    expectOneLineRefusal(
      await serve(`sqlite:${file}/data`),
      `cannot create the data directory ${file}/data (a part of the path is a file, not a directory); use a directory you can write to`,
    );
  });

  it("a data directory the file system cannot hold (/proc) is one line naming it, exit 2", async () => {
    expectOneLineRefusal(
      await serve("sqlite:/proc/cebus-data"),
      "cannot create the data directory /proc/cebus-data (the file system does not allow a directory there); use a directory you can write to",
    );
  });

  it("a corrupt database file is one line naming the file and what to do, exit 2", async () => {
    const dir = tempDir();
    const db = join(dir, "cebus.db");
    writeFileSync(db, Buffer.from(Array.from({ length: 16_384 }, (_, i) => (i * 7919 + 17) % 251)));
    expectOneLineRefusal(
      await serve(`sqlite:${dir}`),
      `${db} is not a Cebus database or is corrupt; move it out of ${dir} (or restore a backup) and start again`,
    );
  });
});
