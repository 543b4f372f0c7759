import type { ClaimRequest, Lease, LeaseRef, SettleAction, StoredEvent } from "@cebus/store";

/** One lease (or waiting redelivery) of a subscription partition. */
export interface LeaseEntry {
  offset: number;
  /** 0 for an event parked behind its key or requeued from the dead-letter topic. */
  attempt: number;
  token: string;
  /** While held: the lease deadline; otherwise when the event is visible again. */
  deadline: number;
  held: boolean;
  key?: string;
}

/**
 * The delivery state of one subscription partition, kept as one KV value in NATS and changed only by
 * compare-and-set on its revision, so claims and settles from any number of broker processes never interleave.
 */
export interface PartitionState {
  cursor: number;
  /** In offset order. */
  leases: LeaseEntry[];
}

export function encodeState(state: PartitionState): Uint8Array {
  return Buffer.from(
    JSON.stringify({
      c: state.cursor,
      l: state.leases.map((l) => [l.offset, l.attempt, l.token, l.deadline, l.held ? 1 : 0, l.key ?? null]),
    }),
  );
}

export function decodeState(bytes: Uint8Array): PartitionState {
  const raw = JSON.parse(Buffer.from(bytes).toString("utf8")) as {
    c: number;
    l: [number, number, string, number, number, string | null][];
  };
  return {
    cursor: raw.c,
    leases: raw.l.map(([offset, attempt, token, deadline, held, key]) => ({
      offset,
      attempt,
      token,
      deadline,
      held: held === 1,
      ...(key === null ? {} : { key }),
    })),
  };
}

/** Parked and leased events past this count stop a claim from reading further (the value stays well under 1 MB). */
export const MAX_TRACKED = 10_000;

export interface EventReader {
  /** The event at `offset`, or undefined when it is no longer retained. */
  at(offset: number): Promise<StoredEvent | undefined>;
  /** Up to `limit` events from `offset` on, in offset order. */
  from(offset: number, limit: number): Promise<StoredEvent[]>;
}

/**
 * A claim on a copy of the state (the same rules as every store, see Store.claim): visible redeliveries first,
 * oldest offset first and, when ordered, only the earliest of each key; then new events from the cursor, parking
 * those whose key is busy.
 */
export async function claimOn(
  current: PartitionState,
  request: ClaimRequest,
  events: EventReader,
): Promise<{ leases: Lease[]; state: PartitionState }> {
  const { max, maxBytes, now, leaseMs, token, autoAck, ordered, expiryDelayMs } = request;
  const state: PartitionState = { cursor: current.cursor, leases: current.leases.map((l) => ({ ...l })) };
  const leases: Lease[] = [];
  let bytes = 0;
  const fits = (size: number) => leases.length === 0 || bytes + size <= maxBytes;
  const deadline = now + leaseMs;
  const drop = new Set<number>();
  if (!autoAck) {
    const seenKeys = new Set<string>();
    const visible: LeaseEntry[] = [];
    for (const lease of state.leases) {
      const blocked = ordered === true && lease.key !== undefined && seenKeys.has(lease.key);
      if (lease.key !== undefined) seenKeys.add(lease.key);
      if (lease.deadline <= now && !blocked && visible.length < max) visible.push(lease);
    }
    const data = await Promise.all(
      visible.map((lease) =>
        lease.held && expiryDelayMs && lease.deadline + expiryDelayMs(lease.attempt, lease.offset) > now
          ? undefined
          : events.at(lease.offset),
      ),
    );
    for (const [i, lease] of visible.entries()) {
      if (lease.held && expiryDelayMs) {
        const retryAt = lease.deadline + expiryDelayMs(lease.attempt, lease.offset);
        if (retryAt > now) {
          lease.held = false;
          lease.deadline = retryAt;
          continue;
        }
      }
      const event = data[i];
      if (!event) {
        drop.add(lease.offset); // no longer retained
        continue;
      }
      if (!fits(event.data.byteLength)) return { leases, state: without(state, drop) };
      lease.attempt += 1;
      lease.token = token;
      lease.deadline = deadline;
      lease.held = true;
      bytes += event.data.byteLength;
      leases.push({ event, attempt: lease.attempt, token, deadline });
    }
  }
  const room = max - leases.length;
  if (room <= 0 || state.leases.length >= MAX_TRACKED) return { leases, state: without(state, drop) };
  const fresh = await events.from(state.cursor, room);
  const busy = new Set<string>();
  if (ordered && !autoAck) for (const l of state.leases) if (l.key !== undefined) busy.add(l.key);
  const added: LeaseEntry[] = [];
  for (const event of fresh) {
    if (ordered && !autoAck && event.key !== undefined && busy.has(event.key)) {
      added.push({ offset: event.offset, attempt: 0, token: "", deadline: 0, held: false, key: event.key });
      state.cursor = event.offset + 1;
      continue;
    }
    if (!fits(event.data.byteLength)) break;
    if (!autoAck) {
      added.push({
        offset: event.offset,
        attempt: 1,
        token,
        deadline,
        held: true,
        ...(event.key === undefined ? {} : { key: event.key }),
      });
      if (ordered && event.key !== undefined) busy.add(event.key);
    }
    bytes += event.data.byteLength;
    leases.push({ event, attempt: 1, token, deadline: autoAck ? 0 : deadline });
    state.cursor = event.offset + 1;
  }
  const next = without(state, drop);
  next.leases = merge(next.leases, added);
  return { leases, state: next };
}

/** Which leases match (the current token, held, deadline after now), and the state after the action. */
export function settleOn(
  current: PartitionState,
  refs: LeaseRef[],
  action: SettleAction,
): { matches: boolean[]; state: PartitionState } {
  const byOffset = new Map(current.leases.map((l) => [l.offset, l]));
  const matches = refs.map((ref) => {
    const lease = byOffset.get(ref.offset);
    return lease !== undefined && lease.held && lease.token === ref.token && lease.deadline > action.now;
  });
  if (!matches.some(Boolean) || (action.allOrNothing && matches.some((m) => !m)))
    return { matches, state: current };
  const hit = new Set(refs.filter((_, i) => matches[i]).map((r) => r.offset));
  const until = action.until ?? action.now;
  const leases: LeaseEntry[] = [];
  for (const lease of current.leases) {
    if (!hit.has(lease.offset)) leases.push(lease);
    else if (action.kind === "nack") leases.push({ ...lease, held: false, deadline: until });
    else if (action.kind === "extend") leases.push({ ...lease, deadline: until });
    // ack and term: gone for good
  }
  return { matches, state: { cursor: current.cursor, leases } };
}

/** Adds waiting leases (attempt 0, visible at `now`) for events that have none; returns how many were added. */
export function requeueOn(
  current: PartitionState,
  events: { offset: number; key: string | undefined }[],
  now: number,
): { count: number; state: PartitionState } {
  const taken = new Set(current.leases.map((l) => l.offset));
  const added: LeaseEntry[] = [];
  for (const e of events) {
    if (taken.has(e.offset)) continue;
    taken.add(e.offset);
    added.push({
      offset: e.offset,
      attempt: 0,
      token: "",
      deadline: now,
      held: false,
      ...(e.key === undefined ? {} : { key: e.key }),
    });
  }
  return { count: added.length, state: { cursor: current.cursor, leases: merge(current.leases, added) } };
}

function without(state: PartitionState, drop: Set<number>): PartitionState {
  return drop.size === 0 ? state : { ...state, leases: state.leases.filter((l) => !drop.has(l.offset)) };
}

function merge(a: LeaseEntry[], b: LeaseEntry[]): LeaseEntry[] {
  if (b.length === 0) return a;
  return [...a, ...b].sort((x, y) => x.offset - y.offset);
}
