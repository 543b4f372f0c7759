import { parseDuration } from "@cebus/core";
import { parse } from "yaml";

/** How a subscriber settles each delivery. The runner decides per delivery, so cases are data, not code. */
export interface SettlePolicy {
  /** Nack these attempt numbers (1 = first delivery); with `nackIds`, only those events on those attempts. */
  nackAttempts?: number[];
  /** Delay for those nacks; unset uses the subscription's backoff. */
  nackDelayMs?: number;
  /** Ignore deliveries with these attempt numbers, so their lease expires. */
  ignoreAttempts?: number[];
  /** Ignore every delivery (never settle). */
  ignoreAll?: boolean;
  /** Term events whose id matches this pattern (on every attempt). */
  termIds?: string;
  /** Nack events whose id matches, on every attempt (poison messages) unless `nackAttempts` narrows it. */
  nackIds?: string;
  /** Extend the lease by this much, then wait `holdMs` before acking. */
  extendMs?: number;
  /** Wait this long before settling. */
  holdMs?: number;
  /** Hold only deliveries with these attempt numbers [all]. */
  holdAttempts?: number[];
  /** Kill the client process after this many deliveries to this subscriber. */
  crashAfter?: number;
  /** On a redelivery, first settle the previous (stale) delivery id of the same event this way. */
  staleSettle?: "ack" | "nack" | "term";
  /** After settling, ack the same delivery once more: the client must refuse it (each message settles once). */
  settleTwice?: boolean;
  /**
   * Nacks go not through the client but through a unary Nack the runner sends to another broker process than the
   * client's (the next URL of a multi-broker target; the same broker when there is one): that process did not
   * deliver the event, so its backoff must come from the attempt the store holds.
   */
  nackElsewhere?: boolean;
}

export interface SubscriptionSpec {
  name: string;
  ordered?: boolean;
  mode?: "at-least-once" | "at-most-once";
  ackDeadlineMs?: number;
  maxAttempts?: number;
  deadLetter?: boolean;
  retry?: { minMs: number; maxMs: number; multiplier?: number; jitter?: number };
  /** A cebus.v1.Filter in its JSON form. */
  filter?: unknown;
  start?: "earliest" | "latest";
  /** Only ids matching this regex are expected on this subscription (e.g. with a filter). */
  expectIds?: string;
}

export type Step =
  | {
      subscribe: {
        client?: string;
        subscriber: string;
        subscription: string;
        maxOutstanding?: number;
        policy?: SettlePolicy;
        /** Process through the client's idempotent-handler helper (exactly-once processing). */
        idempotent?: boolean;
      };
    }
  | { unsubscribe: { client?: string; subscriber: string } }
  | {
      publish: {
        client?: string;
        count: number;
        batch?: number;
        /** Number of distinct partition keys, round-robin; 0 = keyless. */
        keys?: number;
        /** Event ids are `${prefix}${n}`; reusing a prefix republishes the same ids. */
        prefix?: string;
        /** Publish concurrently from these clients instead of one. */
        clients?: string[];
        /** Extra attributes (strings) set on every event, e.g. a type for filter cases. */
        attributes?: Record<string, string>;
        type?: string;
        /** Republish every batch once more (lost-ack retry simulation). */
        retryEachBatch?: boolean;
        /** Publish in the background while the following steps run. */
        background?: boolean;
        /** Set causationid of event n to the id of event n-1 of the same key. */
        causal?: boolean;
        /** Make every event invalid in this way (bad-input cases). */
        invalid?: "missing-source" | "missing-type" | "bad-specversion";
        /** Data of this many bytes instead of a small JSON object. */
        dataBytes?: number;
        /**
         * "full": every event carries every attribute type (string, boolean, integer, bytes, URI, URI-reference,
         * timestamp) and subject, time and dataschema, with data cycling over binary, JSON text and `proto_data`
         * (src/envelope.ts); `attributes`, `dataBytes` and `invalid` do not apply.
         */
        envelope?: "full";
        /** Every publisher publishes all the events (same ids), instead of a share each. */
        sameIds?: boolean;
        /** Retry a failed batch (same ids) until it succeeds, as a careful producer does. */
        retryUntilOk?: boolean;
        /** Per publish call deadline [5 s]. */
        timeoutMs?: number;
        /** The CloudEvents source of every event ["/conformance"]; dedupe is on (source, id). */
        source?: string;
        /** Background publishes: stop after the current batch once the case reaches the `mark` step of this name. */
        stopAtMark?: string;
      };
    }
  | {
      wait: {
        acked?: number;
        delivered?: number;
        deadLettered?: number;
        /** Total deliveries (redeliveries included). */
        deliveries?: number;
        subscription?: string;
        ms?: number;
        timeoutMs?: number;
      };
    }
  | {
      fault: {
        broker?: "kill" | "term" | "pause" | "resume" | "restart";
        client?: string;
        clientFault?: "kill" | "restart";
        /** The shared backend server (redis-server): kill -9, then restart on the same data. */
        backend?: "kill" | "restart";
        proxy?: ProxyFault;
        forMs?: number;
      };
    }
  | {
      seek: {
        subscription: string;
        to?: "earliest" | "latest" | number;
        mark?: string;
        /** Seek to the publish time the broker stored for this event id (read back with ReadTopic). */
        publishTimeOf?: string;
        /** The seek must fail with this code (e.g. out_of_range past the end offset). */
        expectError?: string;
      };
    }
  /**
   * kill -9 the broker the instant it has sent a response to a publish (the case runs through the proxy, which
   * sees the response end and kills before passing it on), restart it, and repeat `times` times: a broker that
   * acks a few ms before its write is durable loses a publish the client saw acknowledged. A background publish
   * (with `stopAtMark`) must run across the step.
   */
  | { killAtPublishAck: { times: number; timeoutMs?: number } }
  /** Remember the wall-clock time under a name (for seek by time). */
  | { mark: string }
  /**
   * Read the topic (partition 0) from an offset without a subscription, until it fails with `expectError` (polling
   * up to `timeoutMs` [90 s]); without one, once, and it must return `expectCount` records when that is set.
   */
  | { read: { from: number; expectError?: string; expectCount?: number; timeoutMs?: number } }
  | { redrive: { subscription: string } };

type KeysOf<T> = T extends unknown ? keyof T : never;
/** The kinds of step ("subscribe", "publish", ...): each step object has exactly one of these keys. */
export type StepKind = KeysOf<Step>;
/** What a step of kind `K` carries (`StepOf<"wait">` is the object under `wait:`). */
export type StepOf<K extends StepKind> = Extract<Step, Record<K, unknown>>[K];

export type ProxyFault = "reset" | "blackhole" | "latency" | "swallow-responses" | "heal";

export interface Expectation {
  /** Every acknowledged publish reaches each subscription (matching its filter), acked or dead-lettered. */
  allDelivered?: boolean;
  /** Delivered at most once per subscription. */
  noDuplicates?: boolean;
  /** No delivery after an ack that returned OK. */
  noRedeliveryAfterAck?: boolean;
  /** Per-key order on ordered subscriptions. */
  keyOrder?: boolean;
  /** Event ids that must never be delivered (filter cases), as a regex. */
  neverDelivered?: string;
  /** How many events must end in the dead-letter topic (exactly once each), with these attempts. */
  deadLettered?: { count: number; attempts?: number; reason?: string };
  /** Minimum and maximum attempt numbers seen across deliveries. */
  minMaxAttempt?: number;
  maxAttempt?: number;
  /**
   * Redeliveries after a nack without a delay, and after an expired lease (ack deadline + backoff), follow the
   * subscription's backoff at every attempt: not early (beyond the clock's tolerance), and late by at most this (ms).
   */
  backoffToleranceMs?: number;
  /** Redeliveries after a nack with a delay (`nackDelayMs`) come after the delay, and late by at most this (ms). */
  nackDelayToleranceMs?: number;
  /** Every publish call must fail with this code (bad-input cases). */
  publishError?: string;
  /** Stored events in the topic at the end. */
  storedEvents?: number;
  /** true: every republished id returns its original offset and duplicate = true (exactly one original);
   *  false: nothing is reported as a duplicate. */
  duplicatesReported?: boolean;
  /**
   * After the case settled, every subscription's stats show nothing in flight and no backlog: no lease was leaked
   * (e.g. by events a filter skips) and no event was left behind the cursor.
   */
  drained?: boolean;
  /** Each acknowledged event is processed (delivered not redundant) exactly once per subscription. */
  exactlyOnceProcessing?: boolean;
  /** Every settle of a stale delivery id (policy `staleSettle`) fails with this code. */
  staleAckRejected?: string;
  /**
   * Every settle sent more than the ack deadline after its delivery arrived (a policy's `holdMs`) fails with this
   * code: the lease had expired, so the event is still owed and comes back.
   */
  lateSettleRejected?: string;
  /** Every second settle of one message (policy `settleTwice`) fails with this code. */
  repeatSettleRejected?: string;
  /** Events published without a partition key land on every partition of the topic (round robin). */
  spreadOverPartitions?: boolean;
  /** Ids matching `ids` are delivered exactly `times` times on each subscription (or the one named). */
  deliveredTimes?: { ids: string; times: number; subscription?: string }[];
  /** Every delivery of an id carries the same partition and offset (replays and restarts included). */
  stablePositions?: boolean;
  /** Every consumer received some events (load balancing). */
  everySubscriberDelivered?: boolean;
  /** Every delivered event carries these attributes with these values ("type", "source" included). */
  attributes?: Record<string, string>;
  /**
   * Every delivered event is the event published with its id, byte for byte: context attributes, every attribute
   * value in its Protobuf encoding, and the data (the broker's `sequence` attribute aside).
   */
  sameEvents?: boolean;
  /**
   * How long to keep watching after everything settled, for late redeliveries [300 ms; with dead letters, at least
   * a subscription's ack deadline + maximum backoff + 300 ms, so a second dead letter of one event shows up].
   */
  quietMs?: number;
}

/**
 * What a case may need of the target it runs against; a target without it skips the case with a reason
 * (src/capabilities.ts says which targets have which).
 */
export const capabilities = ["broker-control", "backend-server", "durable-store", "browser-client"] as const;
export type Capability = (typeof capabilities)[number];

export interface ConformanceCase {
  id: string;
  name: string;
  guarantee: string;
  level: "must" | "should";
  /**
   * What the case needs of the target, from its steps: `broker-control` to kill, stop, pause or restart the broker
   * (not with --broker URL), `backend-server` to kill and restart the backend server (only backends the runner
   * starts, such as redis), `durable-store` to restart the broker and find its data (not the memory store); plus
   * any the suite file names under `needs`.
   */
  needs: Capability[];
  /** Needs a TCP proxy between client and broker. */
  needsProxy: boolean;
  /**
   * false: the runner's brokers run no periodic retention sweep during this case (it would enforce the dedupe
   * window by dropping old dedupe entries, hiding a broken append-time check) [true].
   */
  retentionSweep: boolean;
  topic: { partitions?: number; dedupeWindowMs?: number; retentionMs?: number; maxEventBytes?: number };
  subscriptions: SubscriptionSpec[];
  clients: string[];
  steps: Step[];
  expect: Expectation;
  /** Raw events to publish as-is for bad-input cases (JSON CloudEvents in proto JSON form). */
  rawEvents?: unknown[];
  timeoutMs: number;
}

/**
 * How long the runner watches after a case settled. A dead-lettered event written twice comes back at the latest
 * after a lease (the ack deadline) and a backoff: watch longer than that on every dead-lettering subscription (with
 * an explicit ack deadline; the 30 s default would make the case too slow, so such cases set one).
 */
export function quietPeriodMs(c: ConformanceCase): number {
  let quiet = c.expect.quietMs ?? 300;
  for (const s of c.subscriptions) {
    if (!s.deadLetter) continue;
    quiet = Math.max(quiet, (s.ackDeadlineMs ?? 0) + (s.retry?.maxMs ?? 1000) + 300);
  }
  return quiet;
}

const durationKeys = /(Ms|^ms)$/;

/** Turns "2s"-style strings under keys ending in Ms into numbers, recursively. */
function normalizeDurations(value: unknown, key = ""): unknown {
  if (Array.isArray(value)) return value.map((v) => normalizeDurations(v));
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, normalizeDurations(v, k)]));
  }
  if (typeof value === "string" && durationKeys.test(key)) return parseDuration(value, key);
  return value;
}

/** What the steps need of the target, then those the case names itself (`needs: [browser-client]`), once each. */
function needsOf(steps: Step[], named: unknown, where: string): Capability[] {
  if (named !== undefined && !Array.isArray(named))
    throw new Error(`${where}: needs is a list of capabilities (${capabilities.join(", ")})`);
  for (const need of named ?? [])
    if (!(capabilities as readonly unknown[]).includes(need))
      throw new Error(`${where}: needs names '${need}'; use ${capabilities.join(", ")}`);
  const brokerFault = (s: Step) => "fault" in s && s.fault.broker !== undefined;
  const restarts = (s: Step) =>
    ("fault" in s && brokerFault(s) && s.fault.broker !== "pause" && s.fault.broker !== "resume") ||
    "killAtPublishAck" in s;
  const derived: [Capability, boolean][] = [
    ["broker-control", steps.some((s) => brokerFault(s) || "killAtPublishAck" in s)],
    ["backend-server", steps.some((s) => "fault" in s && s.fault.backend !== undefined)],
    ["durable-store", steps.some(restarts)],
  ];
  const needs = derived.filter(([, needed]) => needed).map(([capability]) => capability);
  return [...new Set([...needs, ...((named ?? []) as Capability[])])];
}

/** Parses a suite file (a YAML list of cases) with defaults filled in; throws naming the file and case. */
export function parseSuite(text: string, file: string): ConformanceCase[] {
  const raw = parse(text) as unknown;
  if (!Array.isArray(raw)) throw new Error(`${file}: a suite is a YAML list of cases`);
  return raw.map((entry, i) => {
    const c = normalizeDurations(entry) as Partial<ConformanceCase>;
    const where = `${file} case ${i + 1}${c.id ? ` (${c.id})` : ""}`;
    if (!c.id || !/^[a-z0-9][a-z0-9./-]*$/.test(c.id))
      throw new Error(`${where}: id is missing or not lower-case kebab/slash form`);
    if (!c.name) throw new Error(`${where}: name is missing`);
    if (!c.guarantee) throw new Error(`${where}: guarantee is missing`);
    if (!Array.isArray(c.steps) || c.steps.length === 0) throw new Error(`${where}: steps are missing`);
    const steps = c.steps as Step[];
    return {
      id: c.id,
      name: c.name,
      guarantee: c.guarantee,
      level: c.level ?? "must",
      needs: needsOf(steps, c.needs, where),
      // a killAtPublishAck step watches the broker's responses in the proxy, to kill the instant an ack leaves
      needsProxy: steps.some((s) => ("fault" in s && s.fault.proxy !== undefined) || "killAtPublishAck" in s),
      retentionSweep: c.retentionSweep ?? true,
      topic: c.topic ?? {},
      subscriptions: c.subscriptions ?? [],
      clients: c.clients ?? ["c1"],
      steps,
      expect: c.expect ?? {},
      rawEvents: c.rawEvents,
      timeoutMs: c.timeoutMs ?? 60_000,
    };
  });
}
