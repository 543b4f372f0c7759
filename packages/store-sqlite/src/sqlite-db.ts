import type { DatabaseSync, SQLInputValue, StatementSync } from "node:sqlite";
import { CebusError } from "@cebus/core";
import type { WalSync } from "./wal-sync.js";

export type Row = Record<string, SQLInputValue>;

/**
 * The database as the store's parts use it: cached prepared statements and group commit.
 *
 * Group commit: every store operation runs at once, synchronously, inside the group's transaction (opened by the
 * first operation of an event-loop turn, each operation in its own savepoint, so one that fails changes nothing
 * and the others stand). The group commits once, after the turn (`setImmediate`). With a `WalSync` (the default
 * durability) the committed groups then wait for one fsync of the WAL on the thread pool, so the event loop goes
 * on with the next group meanwhile; only then do their operations' promises settle: a publish is acknowledged, and
 * an ack confirmed, only after the fsync that made it durable. Concurrent publishes, claims and settles share it.
 */
export interface Db {
  /** The prepared statement for `text`, prepared once per store. */
  sql(text: string): StatementSync;
  /** Runs a writing operation now, in the open group (see above); settles once the group is durable. */
  write<T>(work: () => T): Promise<T>;
  /**
   * Runs a reading operation now. It may see writes not yet durable (the open group's, or a commit waiting for its
   * fsync); then it settles only once they are, so nothing is ever shown before it is durable.
   */
  read<T>(work: () => T): Promise<T>;
  /** Commits the open group now; settles once everything committed is durable (before close). */
  flush(): Promise<void>;
  /** Calls `listener` after every rollback (what the store keeps in memory of rows must be forgotten then). */
  onRollback(listener: () => void): void;
}

interface Waiter {
  resolve(): void;
  reject(error: unknown): void;
}

interface GroupState {
  readonly db: DatabaseSync;
  readonly wal: WalSync | undefined;
  readonly rollbackListeners: (() => void)[];
  /** The operations of the open group waiting for its commit; undefined when no group is open. */
  open: Waiter[] | undefined;
  /** Committed operations waiting for an fsync that has not started yet. */
  committed: Waiter[];
  /** An fsync is running; what it covers settles when it ends. */
  syncing: boolean;
  /** Set when an fsync failed: what the disk holds is unknown, so nothing more is accepted. */
  failed: CebusError | undefined;
}

export function createDb(db: DatabaseSync, wal?: WalSync): Db {
  const cache = new Map<string, StatementSync>();
  const state: GroupState = {
    db,
    wal,
    rollbackListeners: [],
    open: undefined,
    committed: [],
    syncing: false,
    failed: undefined,
  };
  return {
    sql(text) {
      let statement = cache.get(text);
      if (!statement) {
        statement = db.prepare(text);
        cache.set(text, statement);
      }
      return statement;
    },
    write: (work) => runInGroup(state, work),
    read: (work) => readNow(state, work),
    flush: () => {
      commitGroup(state);
      return readNow(state, () => undefined);
    },
    onRollback(listener) {
      state.rollbackListeners.push(listener);
    },
  };
}

/** Runs `work` in a savepoint of the open group (opening one); its promise waits for the group to be durable. */
function runInGroup<T>(state: GroupState, work: () => T): Promise<T> {
  if (state.failed) return Promise.reject(state.failed);
  const { db } = state;
  if (!state.open) {
    db.exec("BEGIN IMMEDIATE");
    state.open = [];
    setImmediate(() => commitGroup(state));
  }
  db.exec("SAVEPOINT op");
  let result: T;
  try {
    result = work();
    db.exec("RELEASE op");
  } catch (error) {
    undoOperation(state);
    return Promise.reject(error);
  }
  return new Promise<T>((resolve, reject) => {
    state.open?.push({ resolve: () => resolve(result), reject });
  });
}

/** A read: inside an open group, as part of it; else at once, settling when what it may have seen is durable. */
function readNow<T>(state: GroupState, work: () => T): Promise<T> {
  if (state.open) return runInGroup(state, work);
  let result: T;
  try {
    result = work();
  } catch (error) {
    return Promise.reject(error);
  }
  if (!state.syncing && state.committed.length === 0) return Promise.resolve(result);
  return new Promise<T>((resolve, reject) => {
    state.committed.push({ resolve: () => resolve(result), reject });
    startSync(state);
  });
}

/** A failed operation: its savepoint is rolled back (or, when SQLite ended the transaction, the whole group). */
function undoOperation(state: GroupState): void {
  for (const listener of state.rollbackListeners) listener(); // first: a rollback below may throw
  if (state.db.isTransaction) {
    state.db.exec("ROLLBACK TO op");
    state.db.exec("RELEASE op");
    return;
  }
  const waiters = state.open ?? [];
  state.open = undefined;
  rejectAll(
    waiters,
    new Error("the embedded store's transaction was rolled back by SQLite; retry the operation"),
  );
}

/** COMMIT of the open group; its operations settle after the fsync (at once without one); all fail if it fails. */
function commitGroup(state: GroupState): void {
  const waiters = state.open;
  if (!waiters) return;
  state.open = undefined;
  try {
    state.db.exec("COMMIT");
  } catch (error) {
    for (const listener of state.rollbackListeners) listener();
    if (state.db.isTransaction) state.db.exec("ROLLBACK");
    rejectAll(waiters, error);
    return;
  }
  if (!state.wal) {
    for (const waiter of waiters) waiter.resolve();
    return;
  }
  for (const waiter of waiters) state.committed.push(waiter);
  startSync(state);
}

/** One fsync for every commit not yet covered; the commits that come while it runs wait for the next one. */
function startSync(state: GroupState): void {
  const { wal } = state;
  if (!wal || state.syncing || state.committed.length === 0) return;
  const covered = state.committed;
  state.committed = [];
  state.syncing = true;
  wal.sync((error) => {
    state.syncing = false;
    if (error) {
      state.failed = new CebusError(
        "unavailable",
        `the embedded store could not fsync its write-ahead log (${error.message}); what is on disk is unknown, so it accepts nothing more: check the disk and restart the broker`,
        { cause: error },
      );
      rejectAll(covered, state.failed);
      rejectAll(state.committed.splice(0), state.failed);
      return;
    }
    for (const waiter of covered) waiter.resolve();
    startSync(state);
  });
}

function rejectAll(waiters: Waiter[], error: unknown): void {
  for (const waiter of waiters) waiter.reject(error);
}
