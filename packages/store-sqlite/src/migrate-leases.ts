import type { DatabaseSync } from "node:sqlite";
import { type DeliveryLease, encodeState } from "@cebus/store/delivery";

interface CursorRow {
  subscription: string;
  partition: number;
  offset: number;
}

interface LeaseRow {
  offset: number;
  attempt: number;
  token: string;
  deadline: number;
  held: number;
  key: string | null;
}

/**
 * Converts a version 1 database (a `cursors` row per subscription partition, a `leases` row per delivered event)
 * into one `delivery_states` row per subscription partition, then drops the old tables. Runs inside the caller's
 * transaction; does nothing when there is no `leases` table.
 *
 * Version 1 could hold a lease at or past the cursor (a requeue of an event not yet delivered). The delivery rules
 * keep every lease below the cursor, so such a lease is dropped: the cursor delivers its event (again), and a
 * consumer holding it gets `false` when it settles, as for any lease that expired.
 */
export function migrateLeaseRows(db: DatabaseSync): void {
  const old = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'leases'").get();
  if (!old) return;
  const cursors = db
    .prepare("SELECT subscription, partition, offset FROM cursors ORDER BY subscription, partition")
    .all() as unknown as CursorRow[];
  const leasesOf = db.prepare(
    "SELECT offset, attempt, token, deadline, held, key FROM leases WHERE subscription = ? AND partition = ? AND offset < ? ORDER BY offset",
  );
  const insert = db.prepare(
    "INSERT OR REPLACE INTO delivery_states (subscription, partition, state) VALUES (?, ?, ?)",
  );
  for (const { subscription, partition, offset } of cursors) {
    const rows = leasesOf.all(subscription, partition, offset) as unknown as LeaseRow[];
    const leases = rows.map(toLease);
    insert.run(subscription, partition, encodeState({ cursor: Number(offset), leases }));
  }
  db.exec("DROP TABLE leases; DROP TABLE cursors;");
}

function toLease(row: LeaseRow): DeliveryLease {
  return {
    offset: Number(row.offset),
    attempt: Number(row.attempt),
    token: row.token,
    deadline: Number(row.deadline),
    held: Number(row.held) === 1,
    key: row.key ?? undefined,
  };
}
