import { type DeliveryLease, decodeState, type PartitionDeliveryState } from "@cebus/store/delivery";

/**
 * The layout before the delivery rules (version 0): the same one value per subscription partition, as JSON
 * `{"c": cursor, "l": [[offset, attempt, token, deadline, held (1/0), key or null], ...]}`, one entry per lease in
 * offset order. Its meaning is the rules' (a held lease until its deadline, a waiting one visible at its deadline,
 * a parked one with attempt 0), so each entry becomes the same `DeliveryLease`.
 */
type LeaseEntryV0 = [number, number, string, number, number, string | null];

interface StateV0 {
  c: number;
  l: LeaseEntryV0[];
}

const decoder = new TextDecoder();
/** How every value written by `encodeState` starts (`{"v":`); a version 0 value starts with `{"c":`. */
const codecPrefix = [0x7b, 0x22, 0x76, 0x22, 0x3a];

/**
 * Decodes a stored delivery state in either layout. A version 0 value is converted on first touch: the change
 * that reads it saves it in the new encoding (reads that write nothing, such as counts, convert it again each
 * time, which is cheap). Version 0 could hold a lease at or past the cursor (a requeue of an event not delivered
 * yet); the rules keep every lease below the cursor, so such a lease is dropped: the cursor delivers its event,
 * and a consumer holding it gets `false` when it settles, as for a lease that expired.
 */
export function decodeStoredState(bytes: Uint8Array): PartitionDeliveryState {
  if (codecPrefix.every((byte, i) => bytes[i] === byte)) return decodeState(bytes);
  const raw = JSON.parse(decoder.decode(bytes)) as Partial<StateV0>;
  if (typeof raw.c !== "number" || !Array.isArray(raw.l)) {
    throw new Error("nats: a delivery state value is in no known layout");
  }
  return migrateStateV0({ c: raw.c, l: raw.l });
}

/** A version 0 state as a PartitionDeliveryState: leases below the cursor, in offset order, one per offset. */
export function migrateStateV0(old: StateV0): PartitionDeliveryState {
  const byOffset = new Map<number, DeliveryLease>();
  for (const [offset, attempt, token, deadline, held, key] of old.l) {
    if (offset >= old.c) continue;
    byOffset.set(offset, { offset, attempt, token, deadline, held: held === 1, key: key ?? undefined });
  }
  const leases = [...byOffset.values()].sort((a, b) => a.offset - b.offset);
  return { cursor: old.c, leases };
}
