import type { DatabaseSync, SQLInputValue, StatementSync } from "node:sqlite";
import { CebusError } from "@cebus/core";
import type { WalSync } from "./wal-sync.js";

export type Row = Record<string, SQLInputValue>;

/**
 * The database as the store's parts use it: cached prepared statements and group commit.
 *
 * Group commit: every store operation runs at once, synchronously, inside the group's transaction (opened by the
 * first operation of an event-loop turn, each operation in its own savepoint, so one that fails changes nothing
 * and the others stand). The group commits once, after the turn (`setImmediate`), or, while an fsync is running,
 * when that fsync ends, so a busy store writes one COMMIT per fsync rather than one per turn. With a `WalSync`
 * (the default durability) the committed groups then wait for one fsync of the WAL on the thread pool, so the event
 * loop goes on with the next group meanwhile; only then do their operations' promises settle: a publish is acknowledged, and
 * an ack confirmed, only after the fsync that made it durable. Concurrent publishes, claims and settles share it.
 *
 * Groups are numbered. An operation settles once the groups it depends on are committed and synced: a write, its
 * own group (a claim too: its leases survive a crash, so an event delivered before a kill -9 is not handed out again
 * before its lease deadline); a read, everything it may have seen.
 */
export interface Db {
  /** The prepared statement for `text`, prepared once per store. */
  sql(text: string): StatementSync;
  /** Runs a writing operation now, in the open group; settles once it is durable. */
  write<T>(work: () => T): Promise<T>;
  /** Runs a reading operation now; settles once everything it may have seen is durable. */
  read<T>(work: () => T): Promise<T>;
  /** Commits the open group now; settles once everything committed is durable (before close). */
  flush(): Promise<void>;
  /** Calls `listener` after every rollback (what the store keeps in memory of rows must be forgotten then). */
  onRollback(listener: () => void): void;
}

interface Waiter {
  /** Settles once the groups up to this one are committed... */
  committed: number;
  /** ...and those up to this one synced. */
  synced: number;
  resolve(): void;
  reject(error: unknown): void;
}

interface GroupState {
  readonly db: DatabaseSync;
  readonly wal: WalSync | undefined;
  readonly rollbackListeners: (() => void)[];
  /** The number of the open group, or of the last one when none is open. */
  group: number;
  open: boolean;
  committedGroup: number;
  syncedGroup: number;
  waiting: Waiter[];
  /** An fsync is running. */
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
    group: 0,
    open: false,
    committedGroup: 0,
    syncedGroup: 0,
    waiting: [],
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

/** Runs `work` in a savepoint of the open group (opening one); its promise waits for what it depends on. */
function runInGroup<T>(state: GroupState, work: () => T): Promise<T> {
  if (state.failed) return Promise.reject(state.failed);
  const { db } = state;
  if (!state.open) {
    db.exec("BEGIN IMMEDIATE");
    state.open = true;
    state.group++;
    setImmediate(() => commitUnlessSyncing(state));
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
  return settleWhen(state, state.group, state.group, result);
}

/** A read: at once, settling once every group it may have seen (the open one, or all committed) is durable. */
function readNow<T>(state: GroupState, work: () => T): Promise<T> {
  if (state.open) return runInGroup(state, work);
  let result: T;
  try {
    result = work();
  } catch (error) {
    return Promise.reject(error);
  }
  return settleWhen(state, 0, state.committedGroup, result);
}

function settleWhen<T>(state: GroupState, committed: number, synced: number, result: T): Promise<T> {
  if (state.committedGroup >= committed && state.syncedGroup >= synced) return Promise.resolve(result);
  return new Promise<T>((resolve, reject) => {
    state.waiting.push({ committed, synced, resolve: () => resolve(result), reject });
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
  state.open = false;
  failGroup(
    state,
    new Error("the embedded store's transaction was rolled back by SQLite; retry the operation"),
  );
}

/**
 * The end of the turn that opened a group: while an fsync runs, the group stays open and takes the operations of
 * later turns too, and commits when that fsync ends (startSync); each fsync is then followed by one COMMIT of
 * everything that arrived meanwhile, instead of one per turn (a COMMIT writes every page the group touched).
 */
function commitUnlessSyncing(state: GroupState): void {
  if (!state.syncing) commitGroup(state);
}

/** COMMIT of the open group, then the fsync that covers it (none without a WalSync); all of it fails if it fails. */
function commitGroup(state: GroupState): void {
  if (!state.open) return;
  state.open = false;
  try {
    state.db.exec("COMMIT");
  } catch (error) {
    for (const listener of state.rollbackListeners) listener();
    if (state.db.isTransaction) state.db.exec("ROLLBACK");
    failGroup(state, error);
    return;
  }
  state.committedGroup = state.group;
  if (!state.wal) state.syncedGroup = state.group;
  settleReady(state);
  startSync(state);
}

/** One fsync for every group committed and not yet synced; groups committed while it runs wait for the next. */
function startSync(state: GroupState): void {
  const { wal } = state;
  if (!wal || state.syncing || state.syncedGroup >= state.committedGroup) return;
  const covered = state.committedGroup;
  state.syncing = true;
  wal.sync((error) => {
    state.syncing = false;
    if (error) {
      state.failed = new CebusError(
        "unavailable",
        `the embedded store could not fsync its write-ahead log (${error.message}); what is on disk is unknown, so it accepts nothing more: check the disk and restart the broker`,
        { cause: error },
      );
      rejectAll(state, state.failed);
      return;
    }
    state.syncedGroup = covered;
    settleReady(state);
    if (state.open) commitGroup(state);
    else startSync(state);
  });
}

function settleReady(state: GroupState): void {
  if (state.waiting.length === 0) return;
  const still: Waiter[] = [];
  for (const waiter of state.waiting) {
    if (state.committedGroup >= waiter.committed && state.syncedGroup >= waiter.synced) waiter.resolve();
    else still.push(waiter);
  }
  state.waiting = still;
}

/** The open group is gone: every operation waiting for it fails (those of earlier groups still settle). */
function failGroup(state: GroupState, error: unknown): void {
  const still: Waiter[] = [];
  for (const waiter of state.waiting) {
    if (waiter.committed === state.group || waiter.synced === state.group) waiter.reject(error);
    else still.push(waiter);
  }
  state.waiting = still;
}

function rejectAll(state: GroupState, error: unknown): void {
  const waiting = state.waiting;
  state.waiting = [];
  for (const waiter of waiting) waiter.reject(error);
}
