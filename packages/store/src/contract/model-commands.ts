import fc from "fast-check";
import type { RetrySchedule } from "../delivery/retry.js";

/**
 * The operations of the delivery model test, as plain data: fast-check generates and shrinks lists of them, and a
 * failure prints the shortest list found. Leases are named by their index among the leases claimed so far (modulo
 * their number), so a command stays meaningful while shrinking removes the ones before it.
 */
export type Command =
  | { op: "append"; partition: number; events: { key: string | undefined; size: number }[] }
  | {
      op: "claim";
      partition: number;
      max: number;
      maxBytes: number;
      leaseMs: number;
    }
  | {
      op: "settle";
      kind: "ack" | "nack" | "extend" | "term";
      picks: { lease: number; stale: "no" | "token" | "offset" }[];
      /** -1: a nack waits the run's retry delay of each lease's stored attempt (SettleAction.backoff). */
      untilMs: number;
      allOrNothing: boolean;
    }
  | { op: "advance"; ms: number }
  | { op: "requeue"; refs: { partition: number; offset: number }[] }
  | { op: "seek"; cursors: number[] }
  | { op: "trim"; ageMs: number; maxBytes: number };

/**
 * One generated run: the subscription (its retry schedule, and whether it is ordered and at-most-once, fixed for
 * the run as the broker fixes them per subscription), and the operations.
 */
export interface ModelRun {
  retry: RetrySchedule | undefined;
  ordered: boolean;
  autoAck: boolean;
  /** The claims pass a filter (ClaimRequest.filter): events of type "skip" (size a multiple of 3) are passed over. */
  filtered: boolean;
  commands: Command[];
}

export const modelPartitions = 2;

const partition = fc.integer({ min: 0, max: modelPartitions - 1 });
const key = fc.constantFrom<string | undefined>(undefined, "a", "b", "c");

const append = fc.record({
  op: fc.constant("append" as const),
  partition,
  events: fc.array(fc.record({ key, size: fc.integer({ min: 1, max: 120 }) }), {
    minLength: 1,
    maxLength: 4,
  }),
});

const claim = fc.record({
  op: fc.constant("claim" as const),
  partition,
  max: fc.integer({ min: 1, max: 5 }),
  maxBytes: fc.constantFrom(1 << 30, 1 << 30, 50, 150),
  leaseMs: fc.constantFrom(100, 1000),
});

const settle = fc.record({
  op: fc.constant("settle" as const),
  kind: fc.constantFrom("ack" as const, "nack" as const, "extend" as const, "term" as const),
  picks: fc.array(
    fc.record({
      lease: fc.nat({ max: 1000 }),
      stale: fc.oneof(
        { weight: 8, arbitrary: fc.constant("no" as const) },
        { weight: 1, arbitrary: fc.constant("token" as const) },
        { weight: 1, arbitrary: fc.constant("offset" as const) },
      ),
    }),
    { minLength: 1, maxLength: 3 },
  ),
  untilMs: fc.constantFrom(0, 50, 500, 2000, -1),
  allOrNothing: fc.boolean(),
});

const advance = fc.record({
  op: fc.constant("advance" as const),
  ms: fc.constantFrom(1, 50, 99, 100, 500, 1000, 3000),
});

const requeue = fc.record({
  op: fc.constant("requeue" as const),
  refs: fc.array(fc.record({ partition, offset: fc.nat({ max: 25 }) }), { minLength: 1, maxLength: 3 }),
});

const seek = fc.record({
  op: fc.constant("seek" as const),
  cursors: fc.array(fc.nat({ max: 20 }), { minLength: modelPartitions, maxLength: modelPartitions }),
});

const trim = fc.record({
  op: fc.constant("trim" as const),
  ageMs: fc.constantFrom(0, 500, 2000, 10_000),
  maxBytes: fc.constantFrom(0, 0, 150, 400, 1000),
});

const command: fc.Arbitrary<Command> = fc.oneof(
  { weight: 4, arbitrary: append },
  { weight: 5, arbitrary: claim },
  { weight: 5, arbitrary: settle },
  { weight: 3, arbitrary: advance },
  { weight: 1, arbitrary: requeue },
  { weight: 1, arbitrary: seek },
  { weight: 1, arbitrary: trim },
);

/** A jittered schedule short enough that expired leases come back within a run. */
export const modelRetry: RetrySchedule = { minMs: 100, maxMs: 1000, multiplier: 2, jitter: 0.5 };

export function modelRuns(maxCommands: number): fc.Arbitrary<ModelRun> {
  return fc.record({
    retry: fc.constantFrom<RetrySchedule | undefined>(modelRetry, undefined),
    ordered: fc.boolean(),
    autoAck: fc.oneof(
      { weight: 9, arbitrary: fc.constant(false) },
      { weight: 1, arbitrary: fc.constant(true) },
    ),
    filtered: fc.oneof(
      { weight: 3, arbitrary: fc.constant(false) },
      { weight: 1, arbitrary: fc.constant(true) },
    ),
    commands: fc.array(command, { minLength: 1, maxLength: maxCommands, size: "max" }),
  });
}
