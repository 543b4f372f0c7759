import { create, fromBinary } from "@bufbuild/protobuf";
import { attributeString, CebusError, msToTimestamp } from "@cebus/core";
import { CloudEventSchema, type DeadLetter, DeadLetterSchema, type Subscription } from "@cebus/proto";
import type { Store } from "@cebus/store";

const page = 500;

/** Walks a subscription's dead-letter topic, oldest first per partition, yielding its dead letters. */
async function* deadLettersOf(store: Store, subscription: Subscription): AsyncGenerator<DeadLetter> {
  if (subscription.deadLetterTopic === "") {
    throw new CebusError(
      "failed_precondition",
      `subscription '${subscription.name}' has no dead-letter topic, so it keeps no failed events; a subscription cannot be changed: to keep them, create a new subscription with dead_letter_topic set`,
    );
  }
  for (const partition of await store.partitionStats(subscription.deadLetterTopic)) {
    let from = partition.startOffset;
    for (;;) {
      const records = await store.read(subscription.deadLetterTopic, partition.partition, from, page);
      for (const record of records) {
        const event = fromBinary(CloudEventSchema, record.data);
        if (attributeString(event, "originalsubscription") !== subscription.name) continue;
        yield create(DeadLetterSchema, {
          partition: record.partition,
          offset: BigInt(record.offset),
          event,
          deadLetterTime: msToTimestamp(record.publishTime),
          reason: attributeString(event, "deadletterreason") ?? "",
          attempts: Number(attributeString(event, "deliveryattempts") ?? 0),
        });
      }
      const last = records[records.length - 1];
      if (!last || records.length < page) break;
      from = last.offset + 1;
    }
  }
}

export async function listDeadLetters(
  store: Store,
  subscription: Subscription,
  limit: number,
): Promise<DeadLetter[]> {
  const out: DeadLetter[] = [];
  for await (const deadLetter of deadLettersOf(store, subscription)) {
    out.push(deadLetter);
    if (out.length >= limit) break;
  }
  return out;
}

/** Requeues dead-lettered events (all, or those with the given ids) on their original subscription only. */
export async function redriveDeadLetters(
  store: Store,
  subscription: Subscription,
  ids: string[],
  now: number,
): Promise<number> {
  const wanted = ids.length > 0 ? new Set(ids) : undefined;
  const targets: { partition: number; offset: number }[] = [];
  for await (const deadLetter of deadLettersOf(store, subscription)) {
    const event = deadLetter.event;
    if (!event || (wanted && !wanted.has(event.id))) continue;
    const partition = Number(attributeString(event, "originalpartition"));
    const offset = Number(attributeString(event, "originaloffset"));
    if (Number.isInteger(partition) && Number.isInteger(offset)) targets.push({ partition, offset });
  }
  return targets.length === 0 ? 0 : store.requeue(subscription.name, targets, now);
}
