import type { CloudEvent } from "@cebus/proto";
import type { RawClients } from "@cebus/testing";
import type { ConformanceCase, SubscriptionSpec } from "./case.js";
import type { ClientProcess } from "./client-process.js";
import type { History } from "./history.js";
import type { FaultProxy } from "./proxy.js";
import type { SettleContext } from "./settle-step.js";
import type { BrokerTarget } from "./target.js";

/** A subscription of the case with its name on the broker (`<topic>-<name>`), as the history records it. */
export type CaseSubscription = SubscriptionSpec & { fullName: string };

/** What a case runs against: the broker target and the client under test. */
export interface CaseEnvironment {
  target: BrokerTarget;
  /** The client under test: a command line. */
  client: string[];
}

/**
 * One case as its steps left it: the case, its topic and subscriptions on the broker, the recorded history and the
 * publishes that returned OK. The checkers and the seek step read this and nothing of the runner's machinery.
 */
export interface CaseContext {
  readonly c: ConformanceCase;
  readonly topic: string;
  readonly deadLetterTopic: string;
  readonly history: History;
  readonly subscriptions: Map<string, CaseSubscription>;
  /** subscriber name -> full subscription name */
  readonly subscribers: Map<string, { subscription: string; client: string }>;
  admin(): RawClients["admin"];
  /** Ids of events whose publish returned OK, with their key (and the event, for `sameEvents`), in publish order. */
  readonly published: Map<
    string,
    { key: string | undefined; partition: number; offset: number; event?: CloudEvent }
  >;
}

/**
 * The runner's state while one case runs (setup, steps, settle-down, checks, teardown all share it): the context
 * above plus the client processes, the proxy, marks, background publishes and the settle policy wiring.
 */
export interface CaseRun extends CaseContext {
  readonly env: CaseEnvironment;
  /** Raw Connect clients of the first broker (made again when a restart moved it to another URL). */
  raw(): RawClients;
  /** Client processes by name (c1, c2, ...). */
  readonly clients: Map<string, ClientProcess>;
  /** The fault proxy between clients and broker, for cases that need one (started by setup). */
  proxy: FaultProxy | undefined;
  /** Wall-clock times of the case's `mark` steps. */
  readonly marks: Map<string, number>;
  /** Publishes running in the background, awaited by the settle-down. */
  readonly background: Promise<void>[];
  /** What broke the case (not an anomaly: a step that threw, a client that crashed), first cause only. */
  failure: string | undefined;
  /** How deliveries are settled: each subscriber's policy, delivery counters, the unary nack elsewhere. */
  readonly settling: SettleContext;
  /** Raw clients of other broker processes, by URL (for `nackElsewhere`). */
  readonly elsewhere: Map<string, RawClients>;
}
