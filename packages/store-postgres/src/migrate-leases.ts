import { type DeliveryLease, encodeState, type PartitionDeliveryState } from "@cebus/store/delivery";
import type { ClientBase } from "pg";
import { n, type Row } from "./postgres-client.js";

/**
 * Migration 2's conversion: the layout of migration 1 (a `cebus_cursors` row per subscription partition, a
 * `cebus_leases` row per delivered event) becomes one `cebus_delivery_states` row per subscription partition, then
 * the old tables are dropped. Runs inside the migration's transaction (connect.ts), under its advisory lock.
 *
 * Held leases keep their token and deadline (their consumer's ack still matches), waiting ones (nacked, parked,
 * requeued, or expired and rewritten by a claim) their attempt and visibility. Migration 1 could hold a lease at or
 * past the cursor (a requeue of an event not yet delivered); the delivery rules keep every lease below the cursor,
 * so such a lease is dropped: the cursor delivers its event, and a consumer holding it gets `false` when it settles.
 */
export async function migrateLeaseRows(client: ClientBase): Promise<void> {
  const cursors = (
    await client.query(
      `SELECT subscription, partition, "offset" FROM cebus_cursors ORDER BY subscription, partition`,
    )
  ).rows as Row[];
  const leases = (
    await client.query(
      `SELECT l.subscription, l.partition, l."offset", l.attempt, l.token, l.deadline, l.held, l.key
         FROM cebus_leases l JOIN cebus_cursors c ON c.subscription = l.subscription AND c.partition = l.partition
        WHERE l."offset" < c."offset" ORDER BY l.subscription, l.partition, l."offset"`,
    )
  ).rows as Row[];
  const states = statesOf(cursors, leases);
  await client.query(
    `INSERT INTO cebus_delivery_states (subscription, partition, version, state)
       SELECT s, p, nextval('cebus_delivery_state_versions'), b FROM unnest($1::text[], $2::int[], $3::bytea[]) AS t(s, p, b)`,
    [
      states.map((s) => s.subscription),
      states.map((s) => s.partition),
      states.map((s) => Buffer.from(encodeState(s.state))),
    ],
  );
  await client.query("DROP TABLE cebus_leases; DROP TABLE cebus_cursors;");
}

interface ConvertedState {
  subscription: string;
  partition: number;
  state: PartitionDeliveryState;
}

/** One state per cursor row, with the lease rows (in offset order, all below the cursor) of its partition. */
function statesOf(cursors: Row[], leases: Row[]): ConvertedState[] {
  const leasesOf = new Map<string, DeliveryLease[]>();
  for (const row of leases) {
    const key = `${row.subscription}\u0000${n(row.partition)}`;
    const list = leasesOf.get(key) ?? [];
    list.push(toLease(row));
    leasesOf.set(key, list);
  }
  return cursors.map((row) => ({
    subscription: row.subscription as string,
    partition: n(row.partition),
    state: {
      cursor: n(row.offset),
      leases: leasesOf.get(`${row.subscription}\u0000${n(row.partition)}`) ?? [],
    },
  }));
}

function toLease(row: Row): DeliveryLease {
  return {
    offset: n(row.offset),
    attempt: n(row.attempt),
    token: row.token as string,
    deadline: n(row.deadline),
    held: row.held === true,
    key: (row.key as string | null) ?? undefined,
  };
}
