import { closeSync, fsync, fsyncSync, openSync } from "node:fs";
import { dirname } from "node:path";

/**
 * The embedded store's fsync, off the event loop. SQLite runs with `synchronous = NORMAL` in WAL mode: a COMMIT
 * writes its frames to the `-wal` file without waiting for the disk. Durability then comes from an fsync of that
 * file on libuv's thread pool (`fs.fsync`), after the commit and before any operation of it is answered. fsync is
 * per file, not per descriptor, so syncing our own descriptor of the WAL makes every frame SQLite wrote to it
 * durable. SQLite itself syncs the WAL before each checkpoint and the database file after it (its NORMAL mode), so
 * a frame acknowledged once stays durable after a checkpoint. The WAL is never deleted while the database is open
 * (exclusive locking mode), so the descriptor stays valid; the directory is synced once at open so the WAL's
 * directory entry is durable too.
 */
export interface WalSync {
  /** fsync of the WAL on the thread pool; `done` gets the error, if any. */
  sync(done: (error: Error | null) => void): void;
  close(): void;
}

export function openWalSync(databasePath: string): WalSync {
  const fd = openSync(`${databasePath}-wal`, "r");
  syncDirectory(dirname(databasePath));
  return {
    sync: (done) => fsync(fd, (error) => done(error)),
    close: () => closeSync(fd),
  };
}

function syncDirectory(dir: string): void {
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
