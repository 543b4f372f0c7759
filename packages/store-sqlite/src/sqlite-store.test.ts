import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { CebusError } from "@cebus/core";
import { TopicSchema } from "@cebus/proto";
import { describeStoreContract } from "@cebus/store/contract";
import { afterAll, describe, expect, it } from "vitest";
import { createSqliteStore } from "./sqlite-store.js";
import { openSqliteStoreInWorker } from "./worker-store.js";

const dirs: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), "cebus-sqlite-"));
  dirs.push(dir);
  return dir;
};
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describeStoreContract("sqlite :memory:", { open: async () => createSqliteStore({ path: ":memory:" }) });

let file = "";
describeStoreContract("sqlite file", {
  open: async () => {
    file = join(tempDir(), "nested", "dir", "cebus.db");
    return createSqliteStore({ path: file });
  },
  reopen: async () => createSqliteStore({ path: file }),
});

describe("sqlite store", () => {
  it("creates the database file and its missing parent directories, in WAL mode", async () => {
    const path = join(tempDir(), "a", "b", "cebus.db");
    const store = createSqliteStore({ path });
    await store.close();
    expect(existsSync(path)).toBe(true);
    const mode = execFileSync(process.execPath, [
      "-e",
      `const { DatabaseSync } = require("node:sqlite"); console.log(new DatabaseSync(${JSON.stringify(path)}).prepare("PRAGMA journal_mode").get().journal_mode)`,
    ]).toString();
    expect(mode.trim()).toBe("wal");
  });

  it("an acknowledged append survives kill -9 of the process", async () => {
    const path = join(tempDir(), "cebus.db");
    const script = `
      const { createSqliteStore } = await import(${JSON.stringify(new URL("../dist/index.js", import.meta.url).href)});
      const { create } = await import("@bufbuild/protobuf");
      const store = createSqliteStore({ path: ${JSON.stringify(path)} });
      await store.createTopic({ $typeName: "cebus.v1.Topic", name: "t", partitions: 1, retentionBytes: 0n, maxEventBytes: 0n });
      const events = Array.from({ length: 100 }, (_, i) => ({ partition: 0, source: "/s", id: "e" + i, key: undefined, data: new Uint8Array([i]) }));
      await store.append("t", events, { now: Date.now(), dedupeSince: Date.now() + 1 });
      process.stdout.write("ok");
      setInterval(() => {}, 1000);
    `;
    const { spawn } = await import("node:child_process");
    const child = spawn(process.execPath, ["--input-type=module", "-e", script], {
      cwd: new URL("..", import.meta.url),
    });
    await new Promise<void>((resolve, reject) => {
      child.stdout.on("data", (chunk: Buffer) => chunk.toString().includes("ok") && resolve());
      child.once("exit", (code) => reject(new Error(`child exited ${code}`)));
    });
    child.kill("SIGKILL");
    await new Promise((resolve) => child.once("exit", resolve));
    const store = createSqliteStore({ path });
    expect(await store.read("t", 0, 0, 1000)).toHaveLength(100);
    await store.close();
  });
});

// The store on a worker thread runs the built store (dist/sqlite-worker.js): `pnpm build` first, as `pnpm test` does.
let workerFile = "";
describeStoreContract("sqlite file in a worker thread", {
  open: async () => {
    workerFile = join(tempDir(), "cebus.db");
    return openSqliteStoreInWorker({ path: workerFile });
  },
  reopen: async () => openSqliteStoreInWorker({ path: workerFile }),
});

describe("the embedded store in a worker thread", () => {
  it("refuses to open what createSqliteStore refuses, with the same error", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "cebus.db"), Buffer.alloc(4096, 0xa5));
    const error = await openSqliteStoreInWorker({ path: join(dir, "cebus.db") }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CebusError);
    expect((error as CebusError).code).toBe("failed_precondition");
    expect((error as CebusError).message).toMatch(/is not a Cebus database or is corrupt/);
  });

  it("gives a store's errors back as CebusErrors with their code and field", async () => {
    const store = await openSqliteStoreInWorker({ path: ":memory:" });
    const error = await store.append("missing", [], { now: 1, dedupeSince: 2 }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "not_found", field: "topic" });
    await store.close();
  });

  it("fails calls after close with unavailable instead of hanging", async () => {
    const store = await openSqliteStoreInWorker({ path: ":memory:" });
    await store.createTopic(create(TopicSchema, { name: "t", partitions: 1 }));
    await store.close();
    await expect(store.listTopics()).rejects.toMatchObject({ code: "unavailable" });
  });
});
