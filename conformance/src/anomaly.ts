/** Every kind of anomaly a checker reports (conformance/README.md's table says what each means). */
export const anomalyKinds = [
  "lost",
  "duplicated",
  "redelivered-after-ack",
  "duplicated-while-leased",
  "reordered",
  "unexpected",
  "dead-letter-missing",
  "dead-letter-duplicate",
  "dead-letter-early",
  "backoff",
  "nack-delay",
  "attempts",
  "publish",
  "stored",
  "balance",
  "processed",
  "stale-ack",
  "late-settle",
  "repeat-settle",
  "stats",
  "position",
] as const;
export type AnomalyKind = (typeof anomalyKinds)[number];

/** Something the history shows that the guarantee forbids. */
export interface Anomaly {
  kind: AnomalyKind;
  subscription?: string;
  id?: string;
  detail: string;
}

/** An event the broker dead-lettered for a subscription, as ListDeadLetters reports it. */
export interface DeadLetterRecord {
  id: string;
  attempts: number;
  reason: string;
}
