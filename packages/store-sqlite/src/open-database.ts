import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { CebusError } from "@cebus/core";
import { applySchema } from "./schema.js";

/**
 * Opening the embedded store's database file, with a lock: one process at a time owns a data directory.
 *
 * The lock is SQLite's own: the connection runs in `locking_mode = EXCLUSIVE` and takes the write lock at open, so
 * the database file stays locked (an fcntl lock) until it is closed. The operating system drops that lock when the
 * process dies, so a broker killed with kill -9 never leaves a stale lock behind, and a reused pid cannot fake
 * one. A second opener gets SQLITE_BUSY at once. The holder writes its pid next to the database (`<db>.lock`)
 * only so that the refusal can name the process; the file never decides anything.
 */

export interface OpenedDatabase {
  db: DatabaseSync;
  /** Removes the pid file and closes the database, which releases the lock. */
  close(): void;
}

const SQLITE_BUSY = 5;
const SQLITE_LOCKED = 6;
const SQLITE_CORRUPT = 11;
const SQLITE_NOTADB = 26;

/** The pid file next to a database: it names the process that holds the database's lock. */
export function lockFileOf(path: string): string {
  return `${path}.lock`;
}

export function openDatabase(path: string, synchronous: "normal" | "full"): OpenedDatabase {
  if (path === ":memory:") {
    const db = new DatabaseSync(path);
    prepare(db, path, synchronous);
    return { db, close: () => db.isOpen && db.close() };
  }
  createDataDirectory(dirname(path));
  let db: DatabaseSync | undefined;
  try {
    db = new DatabaseSync(path);
    db.exec("PRAGMA busy_timeout = 0"); // a held lock is an answer, not something to wait for
    db.exec("PRAGMA locking_mode = EXCLUSIVE");
    db.exec("PRAGMA journal_mode = WAL");
    db.exec("BEGIN IMMEDIATE; COMMIT"); // takes the lock now, and holds it until close
    prepare(db, path, synchronous);
  } catch (error) {
    if (db?.isOpen) db.close();
    throw openFailure(path, error);
  }
  writePid(path);
  const opened = db;
  return {
    db: opened,
    close() {
      if (!opened.isOpen) return;
      removePid(path); // while the lock is still ours, so a next holder's pid file is never removed
      opened.close();
    },
  };
}

/** Pragmas, then the schema (see schema.ts: a newer Cebus's database is refused, an older one converted). */
function prepare(db: DatabaseSync, path: string, synchronous: "normal" | "full"): void {
  db.exec(`PRAGMA synchronous = ${synchronous === "full" ? "FULL" : "NORMAL"}`);
  db.exec("PRAGMA busy_timeout = 5000");
  applySchema(db, path);
}

function createDataDirectory(dir: string): void {
  try {
    makeDirectory(dir);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason =
      code === "EEXIST"
        ? "a file with that name exists"
        : code === "ENOTDIR"
          ? "a part of the path is a file, not a directory"
          : code === "ENOENT"
            ? "the file system does not allow a directory there"
            : code === "EACCES" || code === "EPERM"
              ? "permission denied"
              : code === "EROFS"
                ? "the file system is read-only"
                : ((error as Error).message ?? String(error));
    throw new CebusError(
      "failed_precondition",
      `cannot create the data directory ${dir} (${reason}); use a directory you can write to`,
      { cause: error },
    );
  }
}

/**
 * mkdir -p. Not `mkdirSync(dir, { recursive: true })`: that loops forever where mkdir answers ENOENT although the
 * parent exists (e.g. under /proc). Here each level is tried once, from the deepest existing one down.
 */
function makeDirectory(dir: string): void {
  try {
    mkdirOne(dir);
  } catch (error) {
    const parent = dirname(dir);
    if ((error as NodeJS.ErrnoException).code !== "ENOENT" || parent === dir) throw error;
    makeDirectory(parent);
    mkdirOne(dir);
  }
}

/** Creates one directory; one that exists already (made by us or a racing process) is fine. */
function mkdirOne(dir: string): void {
  try {
    mkdirSync(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST" || !statSync(dir).isDirectory()) throw error;
  }
}

function openFailure(path: string, error: unknown): CebusError {
  if (error instanceof CebusError) return error;
  const errcode = (error as { errcode?: number }).errcode;
  const dir = dirname(path);
  if (errcode === SQLITE_BUSY || errcode === SQLITE_LOCKED) {
    const holder = holderOf(path);
    return new CebusError(
      "failed_precondition",
      `data directory ${dir} is in use by ${holder}; stop that process first, or use another data directory`,
      { cause: error },
    );
  }
  if (errcode === SQLITE_NOTADB || errcode === SQLITE_CORRUPT) {
    return new CebusError(
      "failed_precondition",
      `${path} is not a Cebus database or is corrupt; move it out of ${dir} (or restore a backup) and start again`,
      { cause: error },
    );
  }
  const reason = error instanceof Error ? error.message : String(error);
  return new CebusError(
    "failed_precondition",
    `cannot open ${path} (${reason}); check that ${dir} is a directory you can write to`,
    { cause: error },
  );
}

/** "process 1234" when the pid file names a live process, else "another process". */
function holderOf(path: string): string {
  let pid: number;
  try {
    pid = Number.parseInt(readFileSync(lockFileOf(path), "utf8"), 10);
  } catch {
    return "another process";
  }
  if (!Number.isSafeInteger(pid) || pid <= 0) return "another process";
  if (pid === process.pid) return `this process (pid ${pid}), which has it open already`;
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EPERM") return "another process";
  }
  return `process ${pid}`;
}

function writePid(path: string): void {
  try {
    writeFileSync(lockFileOf(path), `${process.pid}\n`);
  } catch {
    // the pid file only names the holder in a refusal; the lock itself is held by SQLite
  }
}

function removePid(path: string): void {
  try {
    if (Number.parseInt(readFileSync(lockFileOf(path), "utf8"), 10) === process.pid) {
      rmSync(lockFileOf(path), { force: true });
    }
  } catch {
    // already gone
  }
}
