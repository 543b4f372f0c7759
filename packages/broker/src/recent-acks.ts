/**
 * The delivery ids this broker process acked lately, so a repeated ack of one of them answers OK again instead of
 * "already settled". HTTP clients resend a request whose connection broke before the answer came (browsers do it
 * by themselves), and the first copy may have been applied: the repeat must not look like a failure. Bounded: the
 * oldest entries go first. Another broker process over the same store does not see these entries.
 */
export interface RecentAcks {
  has(subscription: string, deliveryId: string): boolean;
  add(subscription: string, deliveryId: string): void;
}

export function createRecentAcks(capacity = 100_000): RecentAcks {
  const seen = new Set<string>();
  const key = (subscription: string, deliveryId: string) => `${subscription}\n${deliveryId}`;
  return {
    has: (subscription, deliveryId) => seen.has(key(subscription, deliveryId)),
    add(subscription, deliveryId) {
      seen.add(key(subscription, deliveryId));
      if (seen.size > capacity) seen.delete(seen.values().next().value as string);
    },
  };
}
