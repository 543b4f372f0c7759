import { fromBinary } from "@bufbuild/protobuf";
import { SubscriptionSchema } from "@cebus/proto";
import type { DeliveryLease, PartitionDeliveryState } from "@cebus/store/delivery";
import type { RedisContext } from "./redis-context.js";
import { commit, type StateWrite } from "./redis-delivery.js";
import { legacyKeys } from "./redis-keys.js";

/**
 * Converts subscriptions kept in the version 1 layout (a cursors hash per subscription, a leases hash, a
 * visibility zset and per-key zsets per partition; see redis-keys.ts) into one delivery state per subscription
 * partition, and deletes the old keys in the same compare-and-set. Run when a store is opened (openRedisStore);
 * a subscription already converted, or converted meanwhile by another broker process, is left as it is.
 *
 * A held lease keeps its token and deadline (its consumer's ack still matches), a waiting one its attempt and the
 * time it is visible again, a parked one its key (it stays behind the key's earlier lease). Version 1 could hold a
 * lease at or past the cursor (a requeue of an event not yet delivered); the rules keep every lease below the
 * cursor, so such a lease is dropped: the cursor delivers its event once, and a holder's settle gets false.
 * Returns how many subscriptions were converted.
 */
export async function migrateLeases(context: RedisContext): Promise<number> {
  const all = await context.redis.hgetallBuffer(context.keys.subscriptions);
  let converted = 0;
  for (const [name, raw] of Object.entries(all)) {
    const topic = fromBinary(SubscriptionSchema, raw).topic;
    if (await migrateSubscription(context, name, topic)) converted++;
  }
  return converted;
}

async function migrateSubscription(context: RedisContext, subscription: string, topic: string) {
  const base = context.keys.base(topic);
  const cursorsKey = legacyKeys.cursors(base, subscription);
  const cursors = await context.redis.hgetall(cursorsKey);
  if (Object.keys(cursors).length === 0) return false;
  const writes: StateWrite[] = [];
  const deletes = [cursorsKey];
  for (const [field, cursor] of Object.entries(cursors)) {
    const partition = Number(field);
    const leasesKey = legacyKeys.leases(base, subscription, partition);
    const rows = await context.redis.hgetall(leasesKey);
    const leases = Object.entries(rows).map(([offset, value]) => parseLease(Number(offset), value));
    const state = stateOf(Number(cursor), leases);
    const key = context.keys.state(topic, subscription, partition);
    writes.push({ loaded: { key, version: "", state: undefined, cached: false }, after: state });
    deletes.push(leasesKey, legacyKeys.visible(base, subscription, partition));
    for (const lease of leases) {
      if (lease.key !== undefined) deletes.push(legacyKeys.key(base, subscription, partition, lease.key));
    }
  }
  return (await commit(context, writes, { deletes: [...new Set(deletes)] })) !== undefined;
}

/** The state of a version 1 partition: its cursor and the leases below it, in offset order. */
function stateOf(cursor: number, leases: DeliveryLease[]): PartitionDeliveryState {
  const kept = leases.filter((lease) => lease.offset < cursor).sort((a, b) => a.offset - b.offset);
  return { cursor, leases: kept };
}

/** A version 1 lease value: "attempt|token|deadline|held|haskey|key". */
function parseLease(offset: number, value: string): DeliveryLease {
  const match = /^(\d+)\|([^|]*)\|(\d+)\|(\d)\|(\d)\|(.*)$/s.exec(value);
  if (!match) throw new Error(`unreadable version 1 lease at offset ${offset}: ${value}`);
  const [, attempt, token, deadline, held, hasKey, key] = match;
  return {
    offset,
    attempt: Number(attempt),
    token: token as string,
    deadline: Number(deadline),
    held: held === "1",
    key: hasKey === "1" ? key : undefined,
  };
}
