import type { Filter, Subscription, Topic } from "@cebus/proto";
import type { RetrySchedule } from "./delivery/retry.js";

/**
 * The storage interface every backend implements (sqlite, redis, nats, postgres). It is deliberately small: the
 * broker engine holds the logic (validation, defaults, filters, flow control, retries), the store holds the state
 * that a guarantee depends on and makes each operation atomic, so several broker processes over one backend act
 * as one broker. Every backend runs the one contract suite in `@cebus/store/contract`.
 *
 * Times are milliseconds since the epoch, passed in by the engine (stores never read the clock), so tests can
 * drive time. Offsets are per topic partition, start at 0 and only grow; an offset is never reused.
 */
export interface Store {
  /** A short description for logs, e.g. "sqlite:/data/cebus.db". */
  readonly description: string;

  // --- topics -------------------------------------------------------------------------------------------------
  /** Creates the topic; returns false (changing nothing) when one with that name exists. */
  createTopic(topic: Topic): Promise<boolean>;
  getTopic(name: string): Promise<Topic | undefined>;
  listTopics(): Promise<Topic[]>;
  /** Deletes the topic, its events and dedupe entries. Returns false when it did not exist. */
  deleteTopic(name: string): Promise<boolean>;
  /** Offsets and sizes per partition, in partition order. */
  partitionStats(topic: string): Promise<PartitionInfo[]>;
  /** The offset of the first event in the partition stored at or after `time` (end offset when none). */
  offsetForTime(topic: string, partition: number, time: number): Promise<number>;

  // --- events -------------------------------------------------------------------------------------------------
  /**
   * Appends events atomically: all are stored, or none. An event whose (source, id) was appended to the topic at
   * or after `dedupeSince` is not stored again; its result carries the original partition and offset and
   * `duplicate: true` (this includes repeats inside the batch). Results are in input order. When the promise
   * resolves, every stored event is durable.
   */
  append(topic: string, events: AppendEvent[], options: AppendOptions): Promise<AppendResult[]>;
  /** Events of one partition from `fromOffset` on, at most `limit`, in offset order. */
  read(topic: string, partition: number, fromOffset: number, limit: number): Promise<StoredEvent[]>;

  // --- subscriptions ------------------------------------------------------------------------------------------
  /**
   * Creates the subscription with a cursor per partition (index = partition). Returns false (changing nothing)
   * when one with that name exists.
   */
  createSubscription(subscription: Subscription, cursors: number[]): Promise<boolean>;
  getSubscription(name: string): Promise<Subscription | undefined>;
  /** All subscriptions, or those of one topic. */
  listSubscriptions(topic?: string): Promise<Subscription[]>;
  /** Deletes the subscription with its cursors and leases. Returns false when it did not exist. */
  deleteSubscription(name: string): Promise<boolean>;
  /** Moves the cursors (index = partition) and drops every lease and pending redelivery. */
  seek(subscription: SubscriptionRef, cursors: number[]): Promise<void>;

  // --- delivery -----------------------------------------------------------------------------------------------
  /**
   * Leases up to `max` events of one partition to a consumer, atomically across broker processes. First events
   * whose lease expired or whose nack delay passed (visible at or before `now`), oldest offset first, with
   * attempt + 1; then new events from the cursor, which moves past them, with attempt 1. Each lease gets
   * `token` and the deadline `now + leaseMs`. Stops before the total event size would pass `maxBytes`, except
   * that the first event is always taken. With `autoAck` (at-most-once) events are taken from the cursor only and
   * no lease is kept. With `filter`, events it rejects are passed over (never leased; the cursor moves past them)
   * and counted in the result's `passedOver`, so a claim that took nothing but moved on is told from an empty one.
   */
  claim(request: ClaimRequest): Promise<ClaimResult>;
  /**
   * Applies one settle action to leases of a subscription. A lease matches when partition, offset and token are
   * those of its current lease and its deadline is after `now`; others are `false` in the result and unchanged.
   * With `allOrNothing`, nothing changes unless all match. ack and term remove the lease for good; nack makes the
   * event visible again at `until`; extend moves the deadline to `until`. A term with `deadLetter` appends the
   * dead-letter copy of each matched lease in the same atomic step (see DeadLetterAppend).
   */
  settle(subscription: SubscriptionRef, action: SettleAction): Promise<boolean[]>;
  /** Counts for stats. */
  subscriptionStats(subscription: string, now: number): Promise<SubscriptionCounts>;
  /**
   * Makes events of the subscription's topic deliverable again to this subscription only (dead-letter redrive):
   * each becomes a waiting lease with attempt 0, visible at `now`. Events that already have a lease, or that are
   * no longer retained, are skipped. Returns how many were requeued.
   */
  requeue(
    subscription: SubscriptionRef,
    events: { partition: number; offset: number }[],
    now: number,
  ): Promise<number>;
  /**
   * Retention: removes events published before `olderThan`, then the oldest events of each partition while it
   * holds more than `maxBytes` (0 = no cap), and dedupe entries recorded before `dedupeBefore`. Offsets are never
   * reused; the partition's start offset moves up. Returns how many events were removed.
   */
  trim(
    topic: string,
    options: { olderThan: number; maxBytes: number; dedupeBefore: number },
  ): Promise<number>;

  /**
   * Shared stores (several broker processes over one backend) report changes made by any process, so consumers
   * on every broker wake at once: new events in a topic, or events of a subscription visible again at `at`.
   * Stores owned by one process (sqlite) leave this out.
   */
  watch?(listener: (change: StoreChange) => void): () => void;

  /** False while the backend is unreachable (the broker then reports not ready on /readyz). */
  healthy?(): boolean;

  /** Releases connections and flushes. */
  close(): Promise<void>;
}

/** A subscription as the delivery operations name it: with its topic, so a store need not look it up. */
export interface SubscriptionRef {
  subscription: string;
  topic: string;
}

/**
 * The dead-letter copies a term appends (Store.settle with kind "term"): `events[i]` belongs to the action's
 * `leases[i]` and is appended to `topic`, without dedupe, only when that lease matched; the appends and the removal
 * of the leases are one atomic step, so a term is never half done (a dead letter without its lease ended, or the
 * lease ended without its dead letter). A store without multi-key transactions (NATS) appends first with an id
 * unique to the lease (subscription, partition, offset, token) that its log deduplicates, then ends the leases:
 * a term interrupted between the two and repeated leaves one dead letter.
 */
export interface DeadLetterAppend {
  topic: string;
  events: AppendEvent[];
}

export interface StoreChange {
  topic: string;
  /** Set when one subscription is concerned (a nack, a requeue, a seek); `at` is when its events are visible. */
  subscription?: string;
  at?: number;
}

export interface AppendEvent {
  partition: number;
  source: string;
  id: string;
  /** The partitionkey extension, stored for ordered delivery. */
  key: string | undefined;
  /** The CloudEvent in Protobuf binary form. */
  data: Uint8Array;
}

export interface AppendOptions {
  /** The publish time to store. */
  now: number;
  /** Earliest append time that still counts for dedupe; `now + 1` disables dedupe. */
  dedupeSince: number;
}

export interface AppendResult {
  partition: number;
  offset: number;
  duplicate: boolean;
}

export interface StoredEvent {
  partition: number;
  offset: number;
  publishTime: number;
  key: string | undefined;
  data: Uint8Array;
}

export interface PartitionInfo {
  partition: number;
  /** Offset of the oldest retained event (= endOffset when empty). */
  startOffset: number;
  /** Offset the next appended event gets. */
  endOffset: number;
  eventCount: number;
  bytes: number;
}

export interface ClaimRequest {
  subscription: string;
  topic: string;
  partition: number;
  consumer: string;
  max: number;
  maxBytes: number;
  now: number;
  leaseMs: number;
  token: string;
  autoAck: boolean;
  /**
   * Ordered delivery by key: an event with a key is only leased when no earlier event of that key in this
   * subscription is leased or waiting; events read from the cursor whose key is busy are parked as waiting leases
   * (attempt 0) and delivered in offset order as the key frees up. Keyless events are not ordered.
   */
  ordered?: boolean;
  /**
   * The subscription's filter, as data (a claim may cross a thread or process boundary): events it rejects are
   * never leased or delivered (the claim passes over them and moves the cursor past them; a visible lease of one is
   * dropped). The rules test it against the stored CloudEvent inside the store's atomic step (delivery/filter.ts).
   */
  filter?: Filter;
  /**
   * The subscription's retry schedule: an expired lease of attempt n becomes visible again at its deadline plus
   * the schedule's delay for (subscription, partition, offset, n), the same instant in every process (see
   * delivery/retry.ts). Unset: at the deadline.
   */
  retry?: RetrySchedule;
}

/**
 * The leases a claim took, in order; `passedOver` counts the events its filter rejected (absent or 0: none), like
 * the extra fields of a RegExp match array. A claim that took nothing tells in `nextVisibleAt` the earliest instant
 * at which a lease of the partition (held by anyone, nacked, or left by an earlier run) becomes claimable again
 * (absent: none), so an idle consumer can sleep until then instead of polling.
 */
export type ClaimResult = Lease[] & { passedOver?: number; nextVisibleAt?: number };

export interface Lease {
  event: StoredEvent;
  attempt: number;
  token: string;
  /** Lease deadline (0 with autoAck). */
  deadline: number;
}

export interface LeaseRef {
  partition: number;
  offset: number;
  token: string;
}

export interface SettleAction {
  kind: "ack" | "nack" | "extend" | "term";
  leases: LeaseRef[];
  now: number;
  /** nack: visible again at; extend: new deadline. */
  until?: number;
  /**
   * nack without `until`: each lease waits the subscription's retry delay for its stored attempt (delivery/retry.ts),
   * the same instant in every process, whichever broker delivered it.
   */
  backoff?: NackBackoff;
  allOrNothing?: boolean;
  /** term only: the dead-letter copies to append in the same atomic step. */
  deadLetter?: DeadLetterAppend;
}

/** The retry schedule a nack applies per lease, keyed by the subscription's name (SettleAction.backoff). */
export interface NackBackoff {
  subscription: string;
  retry: RetrySchedule;
}

export interface SubscriptionCounts {
  /** Not leased and not acked: behind the cursor's pending redeliveries plus events past the cursor. */
  backlog: number;
  /** Leased with a deadline after now. */
  inFlight: number;
  /** Publish time of the oldest unacked event (pending or past the cursor), or undefined when none. */
  oldestUnackedPublishTime: number | undefined;
}
