import { createHash } from "node:crypto";

/**
 * Where each piece of Cebus state lives in NATS. Topic and subscription names may hold `.` and `/`, which are
 * separators in subjects and forbidden in stream names, so streams and subjects use a hash of the topic name and
 * KV keys an escaped form of the names (the names themselves are kept in the values).
 */
export interface Names {
  /** KV bucket with topics, subscriptions, partition states and byte counters. */
  readonly metaBucket: string;
  /** Subject for change notifications between broker processes. */
  readonly changes: string;
  stream(topic: string, partition: number): string;
  subject(topic: string, partition: number): string;
  /** KV bucket with the dedupe entries of one topic. */
  dedupeBucket(topic: string): string;
  topicKey(topic: string): string;
  subscriptionKey(subscription: string): string;
  stateKey(subscription: string, partition: number): string;
  statePrefix(subscription: string): string;
  /** The dead-letter message id of a term in progress on one event of a subscription (dead-letter-marks.ts). */
  deadLetterMarkKey(subscription: string, partition: number, offset: number): string;
  deadLetterMarkPrefix(subscription: string): string;
  bytesKey(topic: string, partition: number): string;
  dedupeFloorKey(topic: string): string;
  /** The subject a key of the meta bucket is stored on (for direct gets and compare-and-set publishes). */
  metaSubject(key: string): string;
  /** The stream behind the meta bucket. */
  readonly metaStream: string;
}

const hash = (text: string, length: number) =>
  createHash("sha256").update(text).digest("hex").slice(0, length);

/** A KV key token for a name: letters, digits, `-` and `_` kept, anything else as `=XX` (hex). */
export const keyToken = (name: string) =>
  name.replace(/[^A-Za-z0-9_-]/g, (c) => `=${c.charCodeAt(0).toString(16).padStart(2, "0")}`);

/** The dedupe key of an event: its (source, id) hashed to a fixed-size KV key token. */
export const dedupeKey = (source: string, id: string) =>
  createHash("sha256").update(`${source.length}:${source}${id}`).digest("base64url").slice(0, 32);

/**
 * The message id of the dead-letter copy of one lease (subscription, partition, offset, token): a term repeated
 * after it was cut short (its dead letter appended, its state not yet saved) publishes the same id, and the
 * dead-letter stream's duplicate window stores it once.
 */
export const deadLetterId = (subscription: string, partition: number, offset: number, token: string) =>
  `dl-${createHash("sha256").update(`${subscription}\n${partition}\n${offset}\n${token}`).digest("base64url").slice(0, 32)}`;

export function createNames(namespace: string): Names {
  const ns = keyToken(namespace).replace(/=/g, "_");
  const t = (topic: string) => hash(topic, 24);
  return {
    metaBucket: `cebus-${ns}`,
    changes: `cebus.${ns}.changes`,
    stream: (topic, partition) => `CEBUS_${ns}_${t(topic)}_${partition}`,
    subject: (topic, partition) => `cebus.${ns}.events.${t(topic)}.${partition}`,
    dedupeBucket: (topic) => `cebus-${ns}-dedupe-${t(topic)}`,
    topicKey: (topic) => `topic.${keyToken(topic)}`,
    subscriptionKey: (subscription) => `sub.${keyToken(subscription)}`,
    stateKey: (subscription, partition) => `state.${keyToken(subscription)}.${partition}`,
    statePrefix: (subscription) => `state.${keyToken(subscription)}`,
    deadLetterMarkKey: (subscription, partition, offset) =>
      `dlmark.${keyToken(subscription)}.${partition}.${offset}`,
    deadLetterMarkPrefix: (subscription) => `dlmark.${keyToken(subscription)}`,
    bytesKey: (topic, partition) => `bytes.${keyToken(topic)}.${partition}`,
    dedupeFloorKey: (topic) => `dedupefloor.${keyToken(topic)}`,
    metaSubject: (key) => `$KV.cebus-${ns}.${key}`,
    metaStream: `KV_cebus-${ns}`,
  };
}
