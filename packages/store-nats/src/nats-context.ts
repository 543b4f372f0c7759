import { CebusError } from "@cebus/core";
import type { Topic } from "@cebus/proto";
import type { StoreChange } from "@cebus/store";
import type { JetStreamManager } from "@nats-io/jetstream";
import type { KV, Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";
import type { CasValues } from "./cas-values.js";
import type { JsRequests } from "./js-requests.js";
import type { Names } from "./names.js";
import type { StateCache } from "./nats-delivery.js";

/** What the parts of the NATS store share: the connection, the names, the meta bucket and the caches. */
export interface NatsContext {
  readonly nc: NatsConnection;
  readonly jsm: JetStreamManager;
  readonly kvm: Kvm;
  /** The KV bucket of topics, subscriptions, delivery states, byte counters and dedupe floors. */
  readonly meta: KV;
  /** Compare-and-set changes of the byte counters and dedupe floors. */
  readonly values: CasValues;
  /** The hot-path JetStream requests (publish, direct get). */
  readonly fast: JsRequests;
  readonly names: Names;
  /** Topic configs by name, re-read after TOPIC_CACHE_MS. */
  readonly topics: Map<string, { topic: Topic | undefined; at: number }>;
  /** The dedupe bucket of each topic, once opened. */
  readonly dedupeBuckets: Map<string, KV>;
  /** The dedupe floor of each topic (see trim), re-read after TOPIC_CACHE_MS. */
  readonly floors: Map<string, { floor: number; at: number }>;
  /** The delivery states this process wrote last (see nats-delivery.ts). */
  readonly states: StateCache;
  /** The last queued change of each state value: changes of one value run one at a time in this store. */
  readonly locks: Map<string, Promise<unknown>>;
  /** Tells every store over this NATS (watch) about a change; best effort. */
  announce(change: StoreChange): void;
}

/** Topic configs and dedupe floors are re-read after this long, so a topic recreated by another broker is seen. */
export const TOPIC_CACHE_MS = 1000;

export const json = (value: unknown) => Buffer.from(JSON.stringify(value));
export const parse = <T>(bytes: Uint8Array) => JSON.parse(Buffer.from(bytes).toString("utf8")) as T;

export const topicMissing = (name: string) =>
  new CebusError("not_found", `topic '${name}' does not exist; create it first`, { field: "topic" });

export const subscriptionMissing = (name: string) =>
  new CebusError("not_found", `subscription '${name}' does not exist; create it first`, {
    field: "subscription",
  });

/** A compare-and-set that lost to another writer (JetStream's "wrong last sequence", or KV's "key exists"). */
export const isConflict = (error: unknown) =>
  error instanceof Error && /wrong last sequence|key exists/i.test(error.message);
