import type { Anomaly } from "./anomaly.js";
import type { ConformanceCase } from "./case.js";
import type { Checker, Publish } from "./check-context.js";

/**
 * What the publish answers must show: the expected error on bad input, duplicates reported (once per (source, id),
 * at one offset) or not at all, and keyless events spread over the topic's partitions.
 */
export function checkPublishes(c: ConformanceCase, publishes: Publish[]): Anomaly[] {
  return [
    ...publishErrors(c, publishes),
    ...duplicateReports(c, publishes),
    ...partitionSpread(c, publishes),
  ];
}

/** `publishError`: every publish call fails with that code. */
function publishErrors(c: ConformanceCase, publishes: Publish[]): Anomaly[] {
  const expected = c.expect.publishError;
  if (!expected) return [];
  const anomalies: Anomaly[] = [];
  for (const p of publishes) {
    if (p.ok)
      anomalies.push({ kind: "publish", id: p.ids[0], detail: `publish succeeded; expected ${expected}` });
    else if (!p.error?.startsWith(expected))
      anomalies.push({
        kind: "publish",
        id: p.ids[0],
        detail: `publish failed with '${p.error}', expected ${expected}`,
      });
  }
  return anomalies;
}

/**
 * `duplicatesReported: true`: every republished (source, id) returns its original offset with duplicate = true,
 * exactly one publish stored it first; `false`: nothing is reported as a duplicate.
 */
function duplicateReports(c: ConformanceCase, publishes: Publish[]): Anomaly[] {
  const reported = c.expect.duplicatesReported;
  if (reported === false)
    return publishes
      .filter((x) => x.ok)
      .flatMap((p) =>
        p.ids.flatMap((id, i) =>
          p.duplicate?.[i]
            ? [
                {
                  kind: "publish" as const,
                  id,
                  detail: "reported as a duplicate, but the dedupe window had passed",
                },
              ]
            : [],
        ),
      );
  if (reported !== true) return [];
  // Order-independent: concurrent publishers of one id may see their responses in any order.
  const outcomes = new Map<string, { offset: number; duplicate: boolean }[]>();
  // dedupe is on (source, id): the same id from another source is another event
  const dedupeKey = (p: Publish, i: number) => `${p.sources?.[i] ?? ""} ${p.ids[i]}`;
  const failed = new Set(publishes.filter((x) => !x.ok).flatMap((x) => x.ids.map((_, i) => dedupeKey(x, i))));
  for (const p of publishes.filter((x) => x.ok)) {
    p.ids.forEach((_, i) => {
      const outcome = { offset: p.offsets?.[i] ?? -1, duplicate: p.duplicate?.[i] ?? false };
      const key = dedupeKey(p, i);
      outcomes.set(key, [...(outcomes.get(key) ?? []), outcome]);
    });
  }
  const anomalies: Anomaly[] = [];
  for (const [key, list] of outcomes) {
    const id = key.slice(key.indexOf(" ") + 1);
    const offsets = new Set(list.map((o) => o.offset));
    const originals = list.filter((o) => !o.duplicate).length;
    if (offsets.size > 1)
      anomalies.push({
        kind: "publish",
        id,
        detail: `publishes of one id returned different offsets ${[...offsets].join(", ")}`,
      });
    if (originals > 1)
      anomalies.push({
        kind: "publish",
        id,
        detail: `${originals} publishes of one id reported duplicate=false; a republish must report duplicate=true`,
      });
    // an id whose first publish failed on the wire may have been stored anyway: then every OK reports a duplicate
    if (originals === 0 && !failed.has(key))
      anomalies.push({
        kind: "publish",
        id,
        detail: "every publish of this id reported duplicate=true, but none stored it first",
      });
  }
  return anomalies;
}

/** `spreadOverPartitions`: events without a partition key reach every partition of the topic (round robin). */
function partitionSpread(c: ConformanceCase, publishes: Publish[]): Anomaly[] {
  if (!c.expect.spreadOverPartitions) return [];
  const partitions = c.topic.partitions ?? 1;
  const used = new Set<number>();
  for (const p of publishes.filter((x) => x.ok))
    p.keys.forEach((key, i) => {
      if (key === undefined && p.partitions?.[i] !== undefined) used.add(p.partitions[i] as number);
    });
  const unused = Array.from({ length: partitions }, (_, i) => i).filter((i) => !used.has(i));
  if (unused.length === 0) return [];
  return [
    {
      kind: "publish",
      detail: `events without a partition key never landed on partition(s) ${unused.join(", ")} of ${partitions}; keyless events go round robin`,
    },
  ];
}

/** publish: the answers of the case's publish calls (errors, duplicates, partitions). */
export const publishChecker: Checker = {
  family: "publish",
  kinds: ["publish"],
  check: (check) => checkPublishes(check.c, check.publishes),
};
