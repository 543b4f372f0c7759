import type { ConformanceCase } from "./case.js";
import type { Anomaly } from "./checkers.js";
import type { HistoryEntry } from "./history.js";

type Publish = Extract<HistoryEntry, { op: "publish" }>;

/**
 * What the publish answers must show: the expected error on bad input, duplicates reported (once per (source, id),
 * at one offset) or not at all, and keyless events spread over the topic's partitions.
 */
export function checkPublishes(c: ConformanceCase, publishes: Publish[]): Anomaly[] {
  const e = c.expect;
  const anomalies: Anomaly[] = [];
  const add = (a: Anomaly) => anomalies.push(a);
  if (e.publishError) {
    for (const p of publishes) {
      if (p.ok)
        add({ kind: "publish", id: p.ids[0], detail: `publish succeeded; expected ${e.publishError}` });
      else if (!p.error?.startsWith(e.publishError))
        add({
          kind: "publish",
          id: p.ids[0],
          detail: `publish failed with '${p.error}', expected ${e.publishError}`,
        });
    }
  }

  if (e.duplicatesReported === true) {
    // Order-independent: concurrent publishers of one id may see their responses in any order.
    const outcomes = new Map<string, { offset: number; duplicate: boolean }[]>();
    // dedupe is on (source, id): the same id from another source is another event
    const dedupeKey = (p: Publish, i: number) => `${p.sources?.[i] ?? ""} ${p.ids[i]}`;
    const failed = new Set(
      publishes.filter((x) => !x.ok).flatMap((x) => x.ids.map((_, i) => dedupeKey(x, i))),
    );
    for (const p of publishes.filter((x) => x.ok)) {
      p.ids.forEach((_, i) => {
        const outcome = { offset: p.offsets?.[i] ?? -1, duplicate: p.duplicate?.[i] ?? false };
        const key = dedupeKey(p, i);
        outcomes.set(key, [...(outcomes.get(key) ?? []), outcome]);
      });
    }
    for (const [key, list] of outcomes) {
      const id = key.slice(key.indexOf(" ") + 1);
      const offsets = new Set(list.map((o) => o.offset));
      const originals = list.filter((o) => !o.duplicate).length;
      if (offsets.size > 1)
        add({
          kind: "publish",
          id,
          detail: `publishes of one id returned different offsets ${[...offsets].join(", ")}`,
        });
      if (originals > 1)
        add({
          kind: "publish",
          id,
          detail: `${originals} publishes of one id reported duplicate=false; a republish must report duplicate=true`,
        });
      // an id whose first publish failed on the wire may have been stored anyway: then every OK reports a duplicate
      if (originals === 0 && !failed.has(key))
        add({
          kind: "publish",
          id,
          detail: "every publish of this id reported duplicate=true, but none stored it first",
        });
    }
  }
  if (e.duplicatesReported === false) {
    for (const p of publishes.filter((x) => x.ok)) {
      p.ids.forEach((id, i) => {
        if (p.duplicate?.[i])
          add({ kind: "publish", id, detail: "reported as a duplicate, but the dedupe window had passed" });
      });
    }
  }

  if (e.spreadOverPartitions) {
    const partitions = c.topic.partitions ?? 1;
    const used = new Set<number>();
    for (const p of publishes.filter((x) => x.ok))
      p.keys.forEach((key, i) => {
        if (key === undefined && p.partitions?.[i] !== undefined) used.add(p.partitions[i] as number);
      });
    const unused = Array.from({ length: partitions }, (_, i) => i).filter((i) => !used.has(i));
    if (unused.length > 0)
      add({
        kind: "publish",
        detail: `events without a partition key never landed on partition(s) ${unused.join(", ")} of ${partitions}; keyless events go round robin`,
      });
  }
  return anomalies;
}
