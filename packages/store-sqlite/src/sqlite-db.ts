import type { DatabaseSync, SQLInputValue, StatementSync } from "node:sqlite";

export type Row = Record<string, SQLInputValue>;

/** The database as the store's parts use it: cached prepared statements, and transactions that nest. */
export interface Db {
  /** The prepared statement for `text`, prepared once per store. */
  sql(text: string): StatementSync;
  /** Runs `work` in one `BEGIN IMMEDIATE` transaction (inside one already open, as part of it). */
  transaction<T>(work: () => T): T;
  /** Calls `listener` after every rollback (what the store keeps in memory of rows must be forgotten then). */
  onRollback(listener: () => void): void;
}

export function createDb(db: DatabaseSync): Db {
  const cache = new Map<string, StatementSync>();
  const rollbackListeners: (() => void)[] = [];
  let depth = 0;
  return {
    sql(text) {
      let statement = cache.get(text);
      if (!statement) {
        statement = db.prepare(text);
        cache.set(text, statement);
      }
      return statement;
    },
    transaction(work) {
      if (depth > 0) return work();
      db.exec("BEGIN IMMEDIATE");
      depth++;
      try {
        const result = work();
        db.exec("COMMIT");
        return result;
      } catch (error) {
        for (const listener of rollbackListeners) listener(); // first: ROLLBACK throws when sqlite rolled back itself
        db.exec("ROLLBACK");
        throw error;
      } finally {
        depth--;
      }
    },
    onRollback(listener) {
      rollbackListeners.push(listener);
    },
  };
}
