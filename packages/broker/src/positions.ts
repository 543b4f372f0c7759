import { create, fromBinary } from "@bufbuild/protobuf";
import { CebusError, msToTimestamp, timestampMs } from "@cebus/core";
import {
  CloudEventSchema,
  type PartitionOffsets,
  type Position,
  type Topic,
  type TopicRecord,
  TopicRecordSchema,
} from "@cebus/proto";
import type { PartitionInfo, Store } from "@cebus/store";
import type { ConsumerRegistry } from "./consumer-registry.js";
import type { BrokerContext } from "./context.js";
import { requireSubscription, requireTopic } from "./lookup.js";

/** Moving a subscription's cursors, and reading a topic without one. */
export interface Positions {
  seek(subscription: string, position: Position | undefined): Promise<void>;
  /** Reads a range of one partition without a subscription; below the oldest retained offset is out_of_range. */
  readTopic(
    topic: string,
    partition: number,
    fromOffset: number,
    limit: number,
  ): Promise<{ records: TopicRecord[]; nextOffset: number }>;
}

/** Explicit offsets, checked against what each partition retains; partitions not named start at their oldest. */
function offsetCursors(
  topic: Topic,
  stats: PartitionInfo[],
  offsets: PartitionOffsets,
  field: string,
): number[] {
  const cursors = stats.map((s) => s.startOffset);
  for (const { partition, offset: wanted } of offsets.offsets) {
    const offset = Number(wanted);
    const s = stats[partition];
    if (!s) {
      throw new CebusError(
        "invalid_argument",
        `${field}.offsets names partition ${partition} but topic '${topic.name}' has ${stats.length}; use 0 to ${stats.length - 1}`,
        { field },
      );
    }
    if (offset < s.startOffset || offset > s.endOffset) {
      throw new CebusError(
        "out_of_range",
        `${field}: offset ${offset} of partition ${partition} is outside ${s.startOffset}..${s.endOffset} (retained events and the end); pick an offset in that range`,
        { field },
      );
    }
    cursors[partition] = offset;
  }
  return cursors;
}

/** Resolves a position to one cursor per partition. */
export async function cursorsFor(
  store: Store,
  topic: Topic,
  position: Position | undefined,
  field: string,
): Promise<number[]> {
  const stats = await store.partitionStats(topic.name);
  const p = position?.position;
  switch (p?.case) {
    case "earliest":
      return stats.map((s) => s.startOffset);
    case undefined:
    case "latest":
      return stats.map((s) => s.endOffset);
    case "time": {
      const time = timestampMs(p.value);
      return Promise.all(stats.map((s) => store.offsetForTime(topic.name, s.partition, time)));
    }
    case "offsets":
      return offsetCursors(topic, stats, p.value, field);
  }
}

async function seek(
  ctx: BrokerContext,
  registry: ConsumerRegistry,
  name: string,
  position: Position | undefined,
): Promise<void> {
  const subscription = await requireSubscription(ctx.store, name);
  const topic = await requireTopic(ctx.store, subscription.topic);
  if (!position || position.position.case === undefined) {
    throw new CebusError("invalid_argument", "position is missing; give earliest, latest, offsets or time", {
      field: "position",
    });
  }
  const cursors = await cursorsFor(ctx.store, topic, position, "position");
  registry.releaseSubscription(name);
  await ctx.store.seek({ subscription: name, topic: topic.name }, cursors);
  registry.wakeTopic(topic.name);
  ctx.logger.info({ subscription: name, position: position.position.case }, "subscription moved");
}

async function readTopic(
  store: Store,
  topicName: string,
  partition: number,
  fromOffset: number,
  limit: number,
): Promise<{ records: TopicRecord[]; nextOffset: number }> {
  await requireTopic(store, topicName);
  const stats = await store.partitionStats(topicName);
  const p = stats[partition];
  if (!p) {
    throw new CebusError(
      "invalid_argument",
      `partition ${partition} does not exist; topic '${topicName}' has partitions 0 to ${stats.length - 1}`,
      {
        field: "partition",
      },
    );
  }
  if (fromOffset < p.startOffset || fromOffset > p.endOffset) {
    throw new CebusError(
      "out_of_range",
      `offset ${fromOffset} of topic '${topicName}' partition ${partition} is outside ${p.startOffset}..${p.endOffset} (the oldest retained offset to the end); read from an offset in that range`,
      { field: "from_offset" },
    );
  }
  const stored = await store.read(
    topicName,
    partition,
    fromOffset,
    Math.min(Math.max(limit || 100, 1), 1000),
  );
  const records = stored.map((r) =>
    create(TopicRecordSchema, {
      partition: r.partition,
      offset: BigInt(r.offset),
      event: fromBinary(CloudEventSchema, r.data),
      publishTime: msToTimestamp(r.publishTime),
    }),
  );
  const last = stored[stored.length - 1];
  return { records, nextOffset: last ? last.offset + 1 : fromOffset };
}

export function createPositions(ctx: BrokerContext, registry: ConsumerRegistry): Positions {
  return {
    seek: (name, position) => seek(ctx, registry, name, position),
    readTopic: (topic, partition, fromOffset, limit) =>
      readTopic(ctx.store, topic, partition, fromOffset, limit),
  };
}
