import { deadLetterId } from "./names.js";
import type { NatsContext } from "./nats-context.js";

/**
 * The message ids of a term's dead letters, remembered per event until the term is saved. NATS cannot append the
 * dead letters and save the state in one step, so a term appends first under these ids and then saves. If the
 * process dies in between, the lease expires and the event comes back with a new token; its next term finds the
 * mark and appends under the same id, which the dead-letter stream's duplicate window (2 min or more) stores once.
 * The mark goes when the term is saved.
 */
export async function deadLetterIds(
  ctx: NatsContext,
  subscription: string,
  partition: number,
  leases: readonly { offset: number; token: string }[],
): Promise<string[]> {
  return Promise.all(leases.map((lease) => markOf(ctx, subscription, partition, lease)));
}

async function markOf(
  ctx: NatsContext,
  subscription: string,
  partition: number,
  lease: { offset: number; token: string },
): Promise<string> {
  const key = ctx.names.deadLetterMarkKey(subscription, partition, lease.offset);
  const entry = await ctx.meta.get(key);
  if (entry && entry.operation === "PUT" && entry.value.length > 0) return entry.string();
  const id = deadLetterId(subscription, partition, lease.offset, lease.token);
  await ctx.meta.put(key, id);
  return id;
}

/** Forgets the marks of terms that were saved. */
export async function clearDeadLetterMarks(
  ctx: NatsContext,
  subscription: string,
  partition: number,
  offsets: readonly number[],
): Promise<void> {
  await Promise.all(
    offsets.map((offset) => ctx.meta.purge(ctx.names.deadLetterMarkKey(subscription, partition, offset))),
  );
}
