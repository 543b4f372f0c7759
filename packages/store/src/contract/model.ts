import { create, toBinary } from "@bufbuild/protobuf";
import { CloudEventSchema, FilterSchema } from "@cebus/proto";
import fc from "fast-check";
import { describe, it } from "vitest";
import type { RetrySchedule } from "../delivery/retry.js";
import type { AppendEvent, ClaimRequest, Lease, LeaseRef, Store } from "../store.js";
import type { StoreFactory } from "./fixtures.js";
import { SUB, subscription, T0, topic } from "./fixtures.js";
import { type Command, type ModelRun, modelPartitions, modelRuns } from "./model-commands.js";
import { createReference, type Reference } from "./model-reference.js";

export interface DeliveryModelOptions {
  /** Random sequences to run (default 100; the environment variable CEBUS_MODEL_RUNS overrides it). */
  numRuns?: number;
  /** Longest sequence (default 40 operations). */
  maxCommands?: number;
  /** Replays one failure: the seed fast-check printed. */
  seed?: number;
}

/**
 * The delivery model test: random sequences of appends, claims (random max, maxBytes, leaseMs; ordered and autoAck
 * fixed per run, as per subscription in the broker), settles
 * with current and stale handles, time passing deadlines, requeues, seeks and trims, run against the delivery
 * rules driven directly (the model) and against a store, which must return the same thing at every step: the
 * leases (offsets, attempts, tokens, deadlines), the settle results, the counts and the partition stats. A failure
 * prints the shortest sequence fast-check found and the step where the store and the model part.
 */
export function describeDeliveryModel(
  name: string,
  factory: StoreFactory,
  options: DeliveryModelOptions = {},
): void {
  const numRuns = runsFromEnvironment() ?? options.numRuns ?? 100;
  describe(`delivery model: ${name}`, () => {
    // a remote backend takes up to ~0.5 s a run on a loaded machine: long hunts get the time they need
    const timeout = Math.max(120_000, numRuns * 500);
    it("random operation sequences give the results of the delivery rules", { timeout }, async () => {
      await fc.assert(
        fc.asyncProperty(modelRuns(options.maxCommands ?? 40), (run) => check(factory, run)),
        { numRuns, ...(options.seed === undefined ? {} : { seed: options.seed }) },
      );
    });
  });
}

/** CEBUS_MODEL_RUNS overrides the number of runs, for a long hunt on one backend (e.g. 20000). */
function runsFromEnvironment(): number | undefined {
  const runs = Number(process.env.CEBUS_MODEL_RUNS);
  return Number.isInteger(runs) && runs > 0 ? runs : undefined;
}

/** One run: a fresh store and model, every command applied to both, results compared after each. */
interface Run {
  store: Store;
  model: Reference;
  retry: RetrySchedule | undefined;
  now: number;
  /** Every lease claimed so far (the model's, equal to the store's), for settles to pick from. */
  issued: Lease[];
  step: number;
  nextId: number;
  ordered: boolean;
  autoAck: boolean;
  filtered: boolean;
}

/** The model's filter: passes over the events of type "skip" (those whose generated size is a multiple of 3). */
const modelFilter = create(FilterSchema, {
  filter: { case: "not", value: { filter: { case: "exact", value: { attributes: { type: "skip" } } } } },
});

/** An event of the model: a CloudEvent with `size` characters of text data. */
function modelEvent(id: string, size: number): Uint8Array {
  const type = size % 3 === 0 ? "skip" : "keep";
  const event = {
    id,
    source: "/model",
    specVersion: "1.0",
    type,
    data: { case: "textData" as const, value: "x".repeat(size) },
  };
  return toBinary(CloudEventSchema, create(CloudEventSchema, event));
}

async function check(factory: StoreFactory, modelRun: ModelRun): Promise<void> {
  const { retry, ordered, autoAck, filtered, commands } = modelRun;
  const store = await factory.open();
  try {
    await store.createTopic(topic("t", modelPartitions));
    await store.createSubscription(subscription("sub", "t"), Array(modelPartitions).fill(0));
    const run: Run = {
      store,
      model: createReference(modelPartitions),
      retry,
      now: T0,
      issued: [],
      step: 0,
      nextId: 0,
      ordered,
      autoAck,
      filtered,
    };
    for (const command of commands) {
      await apply(run, command);
      await compareCounts(run, command);
      run.step++;
    }
  } finally {
    await store.close();
  }
}

async function apply(run: Run, command: Command): Promise<void> {
  switch (command.op) {
    case "append":
      return append(run, command);
    case "claim":
      return claim(run, command);
    case "settle":
      return settle(run, command);
    case "advance":
      run.now += command.ms;
      return;
    case "requeue":
      return requeue(run, command);
    case "seek":
      run.model.seek(command.cursors);
      return run.store.seek(SUB, command.cursors);
    case "trim": {
      const olderThan = run.now - command.ageMs;
      const expected = run.model.trim(olderThan, command.maxBytes);
      const actual = await run.store.trim("t", { olderThan, maxBytes: command.maxBytes, dedupeBefore: 0 });
      return same(run, command, expected, actual);
    }
  }
}

async function append(run: Run, command: Extract<Command, { op: "append" }>): Promise<void> {
  const events: AppendEvent[] = command.events.map((e) => {
    const id = `m${run.nextId++}`;
    return { partition: command.partition, source: "/model", id, key: e.key, data: modelEvent(id, e.size) };
  });
  const expected = run.model.append(events, run.now);
  const actual = await run.store.append("t", events, { now: run.now, dedupeSince: run.now + 1 });
  same(run, command, expected, actual);
}

async function requeue(run: Run, command: Extract<Command, { op: "requeue" }>): Promise<void> {
  const { refs } = command;
  same(run, command, run.model.requeue(refs, run.now), await run.store.requeue(SUB, refs, run.now));
}

async function claim(run: Run, command: Extract<Command, { op: "claim" }>): Promise<void> {
  const request: ClaimRequest = {
    subscription: "sub",
    topic: "t",
    partition: command.partition,
    consumer: "c",
    max: command.max,
    maxBytes: command.maxBytes,
    now: run.now,
    leaseMs: command.leaseMs,
    token: `k${run.step}`,
    autoAck: run.autoAck,
    ordered: run.ordered,
    ...(run.filtered ? { filter: modelFilter } : {}),
    ...retryFields(run.retry),
  };
  const expected = run.model.claim(request);
  const actual = await run.store.claim(request);
  same(run, command, expected.map(summary), actual.map(summary));
  same(run, command, expected.passedOver ?? 0, actual.passedOver ?? 0, "passed over");
  same(run, command, expected.nextVisibleAt, actual.nextVisibleAt, "next visible at");
  if (!run.autoAck) run.issued.push(...expected);
}

/** The run's retry schedule, as data. */
function retryFields(retry: RetrySchedule | undefined): Partial<ClaimRequest> {
  return retry ? { retry } : {};
}

async function settle(run: Run, command: Extract<Command, { op: "settle" }>): Promise<void> {
  const leases = command.picks.map((pick): LeaseRef => {
    // counted from the newest: small numbers (which fast-check favours) name recent, often still current leases
    const lease = run.issued[run.issued.length - 1 - (pick.lease % Math.max(1, run.issued.length))];
    if (!lease) return { partition: 0, offset: 0, token: "none" };
    const ref = { partition: lease.event.partition, offset: lease.event.offset, token: lease.token };
    if (pick.stale === "token") return { ...ref, token: `${ref.token}x` };
    if (pick.stale === "offset") return { ...ref, offset: ref.offset + 1 };
    return ref;
  });
  const backoff = command.untilMs < 0 && run.retry ? { subscription: "sub", retry: run.retry } : undefined;
  const action = {
    kind: command.kind,
    leases,
    now: run.now,
    until: command.untilMs < 0 ? undefined : run.now + command.untilMs,
    ...(backoff ? { backoff } : {}),
    allOrNothing: command.allOrNothing,
  };
  same(run, command, run.model.settle(action), await run.store.settle(SUB, action));
}

async function compareCounts(run: Run, command: Command): Promise<void> {
  same(run, command, run.model.counts(run.now), await run.store.subscriptionStats("sub", run.now), "stats");
  same(run, command, run.model.partitionStats(), await run.store.partitionStats("t"), "partition stats");
}

/** What of a lease must be the same: where, which attempt, whose, until when, and the event's key and time. */
function summary(lease: Lease) {
  const { partition, offset, key, publishTime, data } = lease.event;
  return {
    partition,
    offset,
    attempt: lease.attempt,
    token: lease.token,
    deadline: lease.deadline,
    key,
    publishTime,
    bytes: data.byteLength,
  };
}

function same(run: Run, command: Command, expected: unknown, actual: unknown, what = "result"): void {
  const a = JSON.stringify(expected);
  const b = JSON.stringify(actual);
  if (a === b) return;
  throw new Error(
    `step ${run.step} (${JSON.stringify(command)}) at T0+${run.now - T0}: ${what} differs\n  model: ${a}\n  store: ${b}`,
  );
}
