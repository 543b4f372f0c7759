/**
 * The key layout of the Redis store, under a namespace N (default "cebus"). Every key of a topic and of its
 * subscriptions starts with the topic's base `N:{<topic>}`: with the hash tag they live in one Redis Cluster slot,
 * so one script or transaction can touch them all.
 *
 *   N:topics              hash   topic name -> Topic (protobuf)
 *   N:subscriptions       hash   subscription name -> Subscription (protobuf)
 *   N:changes             pub/sub channel of StoreChange (JSON)
 *   B:m                   hash   n = partitions; s<p> first retained offset, e<p> next offset, c<p> count, b<p> bytes
 *   B:s<p>                stream the partition's events; entry id 0-<offset+1>, fields t (publish time), d (data), k (key)
 *   B:d, B:dt             hash (source,id) -> "partition:offset:time" and zset of the same by time: the dedupe window
 *   B:ds:<sub>:<p>        hash   the delivery state of a subscription partition: v (version), s (encodeState bytes)
 *
 * Before the delivery rules (version 1 layout, converted by migrate-leases.ts): B:c:<sub> (cursors), B:l:<sub>:<p>
 * (leases), B:v:<sub>:<p> (visibility zset), B:k:<sub>:<p>:<key> (offsets of a key's leases).
 */
export interface Keys {
  readonly topics: string;
  readonly subscriptions: string;
  readonly channel: string;
  base(topic: string): string;
  meta(topic: string): string;
  stream(topic: string, partition: number): string;
  dedupe(topic: string): string;
  dedupeTimes(topic: string): string;
  state(topic: string, subscription: string, partition: number): string;
}

export function createKeys(namespace: string): Keys {
  const base = (topic: string) => `${namespace}:{${topic}}`;
  return {
    topics: `${namespace}:topics`,
    subscriptions: `${namespace}:subscriptions`,
    channel: `${namespace}:changes`,
    base,
    meta: (topic) => `${base(topic)}:m`,
    stream: (topic, partition) => `${base(topic)}:s${partition}`,
    dedupe: (topic) => `${base(topic)}:d`,
    dedupeTimes: (topic) => `${base(topic)}:dt`,
    state: (topic, subscription, partition) => `${base(topic)}:ds:${subscription}:${partition}`,
  };
}

/** The version 1 keys of a subscription (migrate-leases.ts). */
export const legacyKeys = {
  cursors: (base: string, subscription: string) => `${base}:c:${subscription}`,
  leases: (base: string, subscription: string, partition: number) => `${base}:l:${subscription}:${partition}`,
  visible: (base: string, subscription: string, partition: number) =>
    `${base}:v:${subscription}:${partition}`,
  key: (base: string, subscription: string, partition: number, key: string) =>
    `${base}:k:${subscription}:${partition}:${key}`,
};
