import { DatabaseSync } from "node:sqlite";
import { describe, expect, it } from "vitest";
import { createDb } from "./sqlite-db.js";

function open() {
  const connection = new DatabaseSync(":memory:");
  connection.exec("PRAGMA foreign_keys = ON");
  connection.exec("CREATE TABLE t (n INTEGER PRIMARY KEY)");
  connection.exec(
    "CREATE TABLE child (n INTEGER PRIMARY KEY, parent INTEGER REFERENCES t (n) DEFERRABLE INITIALLY DEFERRED)",
  );
  const db = createDb(connection);
  const insert = (n: number) => () => db.sql("INSERT INTO t (n) VALUES (?)").run(n);
  const rows = () =>
    (connection.prepare("SELECT n FROM t ORDER BY n").all() as { n: number }[]).map((r) => r.n);
  return { connection, db, insert, rows };
}

describe("group commit", () => {
  it("settles the writes of one event-loop turn only after their one commit", async () => {
    const { connection, db, insert, rows } = open();
    const settled: number[] = [];
    const writes = [1, 2, 3].map((n) => db.write(insert(n)).then(() => settled.push(n)));
    expect(connection.isTransaction).toBe(true); // one group holds all three, not yet committed
    await Promise.resolve();
    expect(settled).toEqual([]);
    await Promise.all(writes);
    expect(connection.isTransaction).toBe(false);
    expect(settled).toEqual([1, 2, 3]);
    expect(rows()).toEqual([1, 2, 3]);
  });

  it("undoes a failing write alone: it changes nothing and the others of its group commit", async () => {
    const { db, insert, rows } = open();
    const first = db.write(insert(1));
    const failing = db.write(() => {
      insert(2)();
      throw new Error("bad input");
    });
    const third = db.write(insert(3));
    await expect(failing).rejects.toThrow("bad input");
    await Promise.all([first, third]);
    expect(rows()).toEqual([1, 3]);
  });

  it("rejects every write of a group whose commit fails, and keeps none of them", async () => {
    const { db, insert, rows } = open();
    let forgotten = 0;
    db.onRollback(() => forgotten++);
    const good = db.write(insert(1));
    const orphan = db.write(() => db.sql("INSERT INTO child (n, parent) VALUES (1, 99)").run());
    await expect(good).rejects.toThrow(/FOREIGN KEY/);
    await expect(orphan).rejects.toThrow(/FOREIGN KEY/);
    expect(rows()).toEqual([]);
    expect(forgotten).toBe(1);
    await db.write(insert(2)); // the next group works
    expect(rows()).toEqual([2]);
  });

  it("answers a read at once when no write is pending, and after the commit when it sees one", async () => {
    const { connection, db, insert } = open();
    await db.write(insert(1));
    const count = () => (db.sql("SELECT count(*) AS c FROM t").get() as { c: number }).c;
    expect(await db.read(count)).toBe(1);
    expect(connection.isTransaction).toBe(false);
    void db.write(insert(2));
    const read = db.read(count);
    expect(connection.isTransaction).toBe(true);
    expect(await read).toBe(2);
    expect(connection.isTransaction).toBe(false);
  });

  it("flush commits the open group at once", async () => {
    const { connection, db, insert, rows } = open();
    const write = db.write(insert(5));
    db.flush();
    expect(connection.isTransaction).toBe(false);
    await write;
    expect(rows()).toEqual([5]);
  });
});

/** A WalSync whose fsyncs end when the test says so (the disk's timing, not its work, is what is tested here). */
function controlledSync() {
  const running: ((error: Error | null) => void)[] = [];
  return {
    wal: { sync: (done: (error: Error | null) => void) => void running.push(done), close() {} },
    running,
    end: (error: Error | null = null) => (running.shift() as (error: Error | null) => void)(error),
  };
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

describe("group commit with an fsync on the thread pool", () => {
  function openSynced() {
    const connection = new DatabaseSync(":memory:");
    connection.exec("CREATE TABLE t (n INTEGER PRIMARY KEY)");
    const disk = controlledSync();
    const db = createDb(connection, disk.wal);
    const insert = (n: number) => () => db.sql("INSERT INTO t (n) VALUES (?)").run(n);
    return { connection, db, disk, insert };
  }

  it("settles a write only after the fsync that follows its commit, and the next group waits for the next fsync", async () => {
    const { connection, db, disk, insert } = openSynced();
    const settled: number[] = [];
    void db.write(insert(1)).then(() => settled.push(1));
    await turn();
    expect(connection.isTransaction).toBe(false); // committed
    expect(disk.running).toHaveLength(1);
    void db.write(insert(2)).then(() => settled.push(2));
    await turn();
    expect(disk.running).toHaveLength(1); // group 2 committed meanwhile, waits for an fsync that starts later
    expect(settled).toEqual([]);
    disk.end();
    await turn();
    expect(settled).toEqual([1]);
    expect(disk.running).toHaveLength(1); // the next fsync covers group 2
    disk.end();
    await turn();
    expect(settled).toEqual([1, 2]);
  });

  it("holds a read that may have seen a commit not yet synced until it is", async () => {
    const { db, disk, insert } = openSynced();
    void db.write(insert(1));
    await turn();
    let answered = false;
    const read = db
      .read(() => db.sql("SELECT count(*) AS c FROM t").get())
      .then((row) => {
        answered = true;
        return row;
      });
    await turn();
    expect(answered).toBe(false);
    disk.end();
    expect(await read).toEqual({ c: 1 });
  });

  it("fails what an fsync covered when it fails, and accepts nothing after it", async () => {
    const { db, disk, insert } = openSynced();
    const write = db.write(insert(1));
    await turn();
    disk.end(new Error("EIO"));
    await expect(write).rejects.toThrow(/could not fsync its write-ahead log \(EIO\)/);
    await expect(db.write(insert(2))).rejects.toMatchObject({ code: "unavailable" });
  });
});
