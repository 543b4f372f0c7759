import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { CebusError } from "@cebus/core";
import { TopicSchema } from "@cebus/proto";
import { describeStoreContract } from "@cebus/store/contract";
import { afterAll, describe, expect, it } from "vitest";
import { openSqliteStoreInWorker } from "./worker-store.js";

// The worker runs the built store (dist/sqlite-worker.js): `pnpm build` first, as `pnpm test` does.

const dirs: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), "cebus-sqlite-worker-"));
  dirs.push(dir);
  return dir;
};
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

let file = "";
describeStoreContract("sqlite file in a worker thread", {
  open: async () => {
    file = join(tempDir(), "cebus.db");
    return openSqliteStoreInWorker({ path: file });
  },
  reopen: async () => openSqliteStoreInWorker({ path: file }),
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
