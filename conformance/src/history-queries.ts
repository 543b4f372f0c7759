import type { HistoryEntry } from "./history.js";

/** Ids acked or termed with an OK answer, on one subscription or (without one) on any. */
export function ackedIds(entries: readonly HistoryEntry[], subscription?: string): Set<string> {
  const ids = new Set<string>();
  for (const e of entries) {
    if (
      e.op === "settle" &&
      e.ok &&
      (e.action === "ack" || e.action === "term") &&
      (!subscription || e.subscription === subscription)
    )
      ids.add(e.id);
  }
  return ids;
}

/**
 * Ids whose ack failed on the wire (the connection broke before the broker confirmed): the broker may or may not
 * have applied it. They count as finished only if the broker holds nothing unacked for the subscription at the end.
 */
export function ambiguousAcks(entries: readonly HistoryEntry[], subscription: string): Set<string> {
  const confirmed = new Set<string>();
  const unsure = new Set<string>();
  for (const e of entries) {
    if (e.op !== "settle" || e.subscription !== subscription || e.action !== "ack") continue;
    if (e.ok) confirmed.add(e.id);
    else if (/^(unavailable|deadline_exceeded|canceled|unknown)/.test(e.error ?? "")) unsure.add(e.id);
  }
  for (const id of confirmed) unsure.delete(id);
  return unsure;
}
