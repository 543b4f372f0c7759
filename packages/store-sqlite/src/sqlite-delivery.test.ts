import { DatabaseSync } from "node:sqlite";
import { initialState, seek } from "@cebus/store/delivery";
import { describe, expect, it } from "vitest";
import { schema } from "./schema.js";
import { createDb, type Db } from "./sqlite-db.js";
import { createStates, deleteStates, loadState, loadStates, saveState } from "./sqlite-delivery.js";

/** A database with the schema, and a second Db over the same connection (it has no cache of its own yet). */
function open(): { db: Db; fresh: () => Db } {
  const connection = new DatabaseSync(":memory:");
  connection.exec(schema);
  return { db: createDb(connection), fresh: () => createDb(connection) };
}

describe("the decoded-state cache", () => {
  it("serves what the row holds after a save, and the row holds it too", async () => {
    const { db, fresh } = open();
    createStates(db, "s", [0, 5]);
    const before = loadState(db, "s", 1);
    const after = seek(before ?? initialState(0), 9);
    await db.write(() => saveState(db, "s", 1, before, after));
    expect(loadState(db, "s", 1)).toBe(after);
    expect(loadState(fresh(), "s", 1)).toEqual(after);
  });

  it("forgets the states a rolled back operation saved", async () => {
    const { db } = open();
    createStates(db, "s", [3]);
    const committed = loadState(db, "s", 0);
    await expect(
      db.write(() => {
        saveState(db, "s", 0, committed, initialState(7));
        throw new Error("boom");
      }),
    ).rejects.toThrow("boom");
    expect(loadState(db, "s", 0)).toEqual(initialState(3));
  });

  it("forgets a deleted subscription's states", () => {
    const { db } = open();
    createStates(db, "s", [1, 2]);
    expect(loadStates(db, "s")).toEqual([initialState(1), initialState(2)]);
    deleteStates(db, "s");
    expect(loadState(db, "s", 0)).toBeUndefined();
    expect(loadStates(db, "s")).toEqual([]);
  });
});
