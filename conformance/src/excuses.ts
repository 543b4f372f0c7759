import { type FaultKind, faultKinds, type HistoryEntry } from "./history.js";

/** The anomalies a fault could have a part in. No fault excuses any other kind (lost, reordered, ...). */
export type ExcusableAnomaly = "duplicated-while-leased" | "redelivered-after-ack" | "duplicated";

export const guarantees = [
  "at-least-once",
  "at-most-once",
  "exactly-once",
  "ordered",
  "dead-letter",
  "replay",
  "filters",
  "bad-input",
] as const;
export type Guarantee = (typeof guarantees)[number];

type ExcuseTable = Record<ExcusableAnomaly, Record<Guarantee, readonly FaultKind[]>>;

/** Releases a lease on purpose: a clean close gives its leases back, a seek drops them, a redrive delivers again. */
const releasesLeases: readonly FaultKind[] = ["unsubscribe", "seek", "redrive"];
/** Moves a subscription back on purpose: acked events come again. */
const replays: readonly FaultKind[] = ["seek", "redrive"];
const nothing: readonly FaultKind[] = [];

/**
 * Which faults may excuse which anomalies, per guarantee. A checker that sees an anomaly right after a fault asks
 * this table instead of excusing every second copy after any fault: a fault excuses an anomaly only when the
 * broker's contract says that fault changes the outcome.
 *
 * What the contract says, and why most faults excuse nothing:
 * - Leases are stored by every store (sqlite, redis with appendfsync always, PostgreSQL with synchronous_commit
 *   on, NATS JetStream with the write in the kernel before the ack), so a broker kill -9, SIGTERM or restart, a
 *   backend kill -9 or restart, and a broker pause keep every lease until its deadline.
 * - A broken connection (a proxy reset, blackhole or swallowed responses, a client process killed) keeps the
 *   leases of its consumer until their deadline: the consumer may still be processing. Only a clean close
 *   (`unsubscribe`: the client half-closes Consume or calls EndReceive) releases them at once.
 * - A seek drops every lease of its subscription and moves its cursor; a redrive delivers dead-lettered events
 *   again. Both redeliver on purpose, including events already acked.
 *
 * The table is documented in conformance/README.md, "Which faults excuse which anomalies".
 */
export const excuseTable: ExcuseTable = {
  // a second copy while the first copy's lease is held
  "duplicated-while-leased": {
    "at-least-once": releasesLeases,
    "at-most-once": releasesLeases,
    "exactly-once": releasesLeases,
    ordered: releasesLeases,
    "dead-letter": releasesLeases,
    replay: releasesLeases,
    filters: releasesLeases,
    "bad-input": nothing,
  },
  // a delivery after an ack that returned OK
  "redelivered-after-ack": {
    "at-least-once": replays,
    "at-most-once": replays,
    "exactly-once": replays,
    ordered: replays,
    "dead-letter": replays,
    replay: replays,
    filters: replays,
    "bad-input": nothing,
  },
  // a second delivery where the guarantee allows one (at-most-once, noDuplicates): a replay is the case's own doing
  duplicated: {
    "at-least-once": nothing,
    "at-most-once": nothing,
    "exactly-once": nothing,
    ordered: nothing,
    "dead-letter": nothing,
    replay: nothing,
    filters: nothing,
    "bad-input": nothing,
  },
};

/** The faults that may excuse `anomaly` under `guarantee`; a guarantee not in the table gets the at-least-once row. */
export function excusingFaults(anomaly: ExcusableAnomaly, guarantee: string): readonly FaultKind[] {
  const row = excuseTable[anomaly];
  return row[
    (guarantees as readonly string[]).includes(guarantee) ? (guarantee as Guarantee) : "at-least-once"
  ];
}

type Fault = Extract<HistoryEntry, { op: "fault" }>;

export interface ExcuseQuery {
  anomaly: ExcusableAnomaly;
  guarantee: string;
  /** The window in which an excusing fault must start (history milliseconds, inclusive). */
  from: number;
  to: number;
  /** The subscription and subscriber concerned: a fault scoped to another one does not excuse. */
  subscription: string;
  subscriber: string;
}

/** The fault in the history that excuses the anomaly, if any (for the anomaly's detail, when none does). */
export function excusingFault(entries: readonly HistoryEntry[], q: ExcuseQuery): Fault | undefined {
  const allowed = excusingFaults(q.anomaly, q.guarantee);
  if (allowed.length === 0) return undefined;
  return entries.find(
    (x): x is Fault =>
      x.op === "fault" &&
      x.kind !== undefined &&
      allowed.includes(x.kind) &&
      x.at >= q.from &&
      x.at <= q.to &&
      (x.subscription === undefined || x.subscription === q.subscription) &&
      (x.subscriber === undefined || x.subscriber === q.subscriber),
  );
}

/** The kind of a runner fault step ({ broker: "kill" } and so on). */
export function faultKindOf(step: {
  broker?: string;
  client?: string;
  clientFault?: string;
  backend?: string;
  proxy?: string;
}): FaultKind | undefined {
  const kind = step.broker
    ? `broker-${step.broker}`
    : step.client && step.clientFault
      ? `client-${step.clientFault}`
      : step.backend
        ? `backend-${step.backend}`
        : step.proxy
          ? `proxy-${step.proxy}`
          : undefined;
  return (faultKinds as readonly string[]).includes(kind ?? "") ? (kind as FaultKind) : undefined;
}
