import type { StoredEvent } from "../store.js";

/**
 * The rules' window on a partition's log, which the backend keeps. Synchronous: a backend whose log is remote
 * reads what a claim needs first (the events at its visible leases and from the cursor), then runs the rules.
 */
export interface EventReader {
  /** The event at `offset`, or undefined when it is not retained (removed by retention, or never appended). */
  at(offset: number): StoredEvent | undefined;
  /** Up to `limit` retained events from `offset` on, in offset order. */
  from(offset: number, limit: number): StoredEvent[];
}
