import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CebusError } from "@cebus/core";
import { afterAll, describe, expect, it } from "vitest";
import { lockFileOf } from "./open-database.js";
import { createSqliteStore } from "./sqlite-store.js";

const dirs: string[] = [];
const children: ChildProcess[] = [];
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), "cebus-sqlite-open-"));
  dirs.push(dir);
  return dir;
};
afterAll(() => {
  for (const child of children) child.kill("SIGKILL");
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** The CebusError that opening `path` throws (fails the test when it opens). */
function openError(path: string): CebusError {
  try {
    createSqliteStore({ path });
  } catch (error) {
    expect(error).toBeInstanceOf(CebusError);
    return error as CebusError;
  }
  throw new Error(`opening ${path} succeeded`);
}

/** A child process that opens the store on `path` (from the built package) and keeps it open. */
async function holdInChild(path: string): Promise<ChildProcess> {
  const script = `
    const { createSqliteStore } = await import(${JSON.stringify(new URL("../dist/index.js", import.meta.url).href)});
    createSqliteStore({ path: ${JSON.stringify(path)} });
    process.stdout.write("open");
    setInterval(() => {}, 1000);
  `;
  const child = spawn(process.execPath, ["--input-type=module", "-e", script], {
    cwd: new URL("..", import.meta.url),
  });
  children.push(child);
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on("data", (chunk: Buffer) => chunk.toString().includes("open") && resolve());
    child.once("exit", (code) => reject(new Error(`child exited ${code}`)));
  });
  return child;
}

describe("sqlite store: one process owns a database file", () => {
  it("a second open in the same process is refused, naming the directory; close releases it", async () => {
    const dir = tempDir();
    const path = join(dir, "cebus.db");
    const store = createSqliteStore({ path });
    const error = openError(path);
    expect(error.code).toBe("failed_precondition");
    expect(error.message).toContain(`data directory ${dir} is in use by this process (pid ${process.pid})`);
    await store.close();
    expect(existsSync(lockFileOf(path))).toBe(false);
    const again = createSqliteStore({ path });
    await again.close();
  });

  it("an open by another process is refused with that process's pid, and kill -9 of it frees the database", async () => {
    const dir = tempDir();
    const path = join(dir, "cebus.db");
    const holder = await holdInChild(path);
    expect(readFileSync(lockFileOf(path), "utf8").trim()).toBe(String(holder.pid));
    const error = openError(path);
    expect(error.code).toBe("failed_precondition");
    expect(error.message).toBe(
      `data directory ${dir} is in use by process ${holder.pid}; stop that process first, or use another data directory`,
    );
    holder.kill("SIGKILL");
    await new Promise((resolve) => holder.once("exit", resolve));
    expect(existsSync(lockFileOf(path))).toBe(true); // left behind by kill -9; it decides nothing
    const store = createSqliteStore({ path });
    expect(readFileSync(lockFileOf(path), "utf8").trim()).toBe(String(process.pid));
    await store.close();
  });
});

describe("sqlite store: a data directory or database file that cannot be used", () => {
  it("a data directory under a regular file is a failed_precondition naming the directory", () => {
    const file = join(tempDir(), "plain-file");
    writeFileSync(file, "x");
    const error = openError(join(file, "data", "cebus.db"));
    expect(error.code).toBe("failed_precondition");
    expect(error.message).toBe(
      `cannot create the data directory ${join(file, "data")} (a part of the path is a file, not a directory); use a directory you can write to`,
    );
  });

  it("a database file of random bytes is a failed_precondition naming the file and what to do", () => {
    const dir = tempDir();
    const path = join(dir, "cebus.db");
    writeFileSync(path, Buffer.from(Array.from({ length: 8192 }, (_, i) => (i * 7919 + 13) % 256)));
    const error = openError(path);
    expect(error.code).toBe("failed_precondition");
    expect(error.message).toBe(
      `${path} is not a Cebus database or is corrupt; move it out of ${dir} (or restore a backup) and start again`,
    );
    expect(existsSync(lockFileOf(path))).toBe(false);
  });

  it("a database path that is a directory is a failed_precondition naming the path", () => {
    const dir = tempDir();
    const path = join(dir, "cebus.db");
    mkdirSync(path);
    const error = openError(path);
    expect(error.code).toBe("failed_precondition");
    expect(error.message).toMatch(
      new RegExp(`^cannot open ${path} \\(.+\\); check that ${dir} is a directory you can write to$`),
    );
  });
});
