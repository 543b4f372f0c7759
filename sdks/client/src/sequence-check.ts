/**
 * Order checks on what a consumer receives (docs/sdk-contract.md, "Sequence checks"). The broker stamps each
 * delivered event with the CloudEvents `sequence` attribute: its offset in its partition. On an ordered subscription
 * the broker hands out a key's events one at a time in offset order, so, among first deliveries (attempt 1), the
 * offsets of one key only grow. A first delivery that breaks that is reported:
 * - `repeat`: the same offset of the key came as a first delivery before (a duplicate the broker should not send);
 * - `out-of-order`: an offset lower than one of the same key already received (an ordering violation).
 * Redeliveries (attempt > 1) repeat an offset on purpose and are not checked. A seek makes earlier events come
 * again as first deliveries, so expect reports after one. Offsets are per partition and keys never move between
 * partitions, so a key's last offset is all that is kept: at most `maxKeys` keys, the least recently seen forgotten
 * first.
 */

export interface SequenceAnomaly {
  type: "sequence";
  anomaly: "repeat" | "out-of-order";
  partition: number;
  key: string;
  /** The offset (sequence) of this delivery. */
  offset: number;
  /** The highest offset of this key received before. */
  previous: number;
}

export interface Sequenced {
  partition: number;
  offset: number;
  attempt: number;
  key: string | undefined;
}

export interface SequenceCheck {
  /** The anomaly this delivery shows, if any; remembers it either way. */
  check(delivery: Sequenced): SequenceAnomaly | undefined;
}

export function createSequenceCheck(maxKeys = 100_000): SequenceCheck {
  const last = new Map<string, number>();
  return { check: (delivery) => check(last, maxKeys, delivery) };
}

function check(last: Map<string, number>, maxKeys: number, d: Sequenced): SequenceAnomaly | undefined {
  if (d.key === undefined || d.attempt !== 1) return undefined;
  const id = `${d.partition}\u0000${d.key}`;
  const previous = last.get(id);
  last.delete(id); // re-inserted below: the Map's order is the least recently seen first
  last.set(id, Math.max(previous ?? -1, d.offset));
  if (last.size > maxKeys) last.delete(last.keys().next().value as string);
  if (previous === undefined || d.offset > previous) return undefined;
  const anomaly = d.offset === previous ? "repeat" : "out-of-order";
  return { type: "sequence", anomaly, partition: d.partition, key: d.key, offset: d.offset, previous };
}
