import { create } from "@bufbuild/protobuf";
import { CebusError, durationMs, msToDuration, msToTimestamp, parseDuration } from "@cebus/core";
import {
  DeliveryMode,
  type Position,
  PositionSchema,
  type Subscription,
  SubscriptionSchema,
} from "@cebus/proto";
import type { Command } from "commander";
import { action, connectTo } from "../connection.js";
import { wholeNumber } from "../flags.js";
import { printJson, printTable } from "../output.js";

/** Parses earliest | latest | an ISO time into a Position. */
export function parsePosition(text: string, flag: string): Position {
  if (text === "earliest" || text === "latest")
    return create(PositionSchema, { position: { case: text, value: {} } });
  const time = Date.parse(text);
  if (Number.isNaN(time)) {
    throw new CebusError(
      "invalid_argument",
      `${flag} '${text}' is not earliest, latest or an ISO time such as 2026-01-01T00:00:00Z`,
    );
  }
  return create(PositionSchema, { position: { case: "time", value: msToTimestamp(time) } });
}

const describeSubscription = (s: Subscription) => ({
  name: s.name,
  topic: s.topic,
  mode: s.deliveryMode === DeliveryMode.AT_MOST_ONCE ? "at-most-once" : "at-least-once",
  ordered: s.ordered,
  ackDeadline: `${durationMs(s.ackDeadline, 0) / 1000}s`,
  maxAttempts: s.maxDeliveryAttempts || "unlimited",
  deadLetter: s.deadLetterTopic || "-",
});

/** The flags of `cebus subscriptions create`. */
interface CreateOptions {
  topic: string;
  ordered?: boolean;
  atMostOnce?: boolean;
  ackDeadline?: string;
  maxAttempts?: number;
  deadLetter?: string;
  start?: string;
  filterType?: string;
  ifNotExists?: boolean;
}

/** The subscription `cebus subscriptions create` asks for: unset flags leave the broker's defaults. */
function subscriptionFromFlags(name: string, o: CreateOptions): Subscription {
  return create(SubscriptionSchema, {
    name,
    topic: o.topic,
    ordered: o.ordered ?? false,
    deliveryMode: o.atMostOnce ? DeliveryMode.AT_MOST_ONCE : DeliveryMode.AT_LEAST_ONCE,
    ackDeadline: o.ackDeadline ? msToDuration(parseDuration(o.ackDeadline, "--ack-deadline")) : undefined,
    maxDeliveryAttempts: o.maxAttempts ?? 0,
    deadLetterTopic: o.deadLetter ?? "",
    startPosition: o.start ? parsePosition(o.start, "--start") : undefined,
    filter: o.filterType
      ? { filter: { case: "prefix", value: { attributes: { type: o.filterType } } } }
      : undefined,
  });
}

async function createSubscription(name: string, o: CreateOptions, cmd: Command): Promise<void> {
  const created = await connectTo(cmd.optsWithGlobals().url).admin.createSubscription({
    subscription: subscriptionFromFlags(name, o),
    ifNotExists: o.ifNotExists ?? false,
  });
  console.log(`subscription ${created.subscription?.name} ready on topic ${created.subscription?.topic}`);
}

function registerCreate(subs: Command): void {
  subs
    .command("create <name>")
    .description("create a subscription on a topic")
    .requiredOption("--topic <topic>", "the topic to subscribe to")
    .option("--ordered", "deliver events of one partitionkey one at a time, in order")
    .option("--at-most-once", "count events as acked when sent (never redelivered)")
    .option("--ack-deadline <duration>", "redeliver when not acked within this, e.g. 30s [30s]")
    .option("--max-attempts <n>", "dead-letter after this many attempts [unlimited]", wholeNumber(1))
    .option("--dead-letter <topic>", "topic for events that reach max attempts or are terminated")
    .option("--start <position>", "earliest, latest or an ISO time [latest]")
    .option("--filter-type <prefix>", "only events whose type starts with this")
    .option("--if-not-exists", "succeed if it exists with the same settings")
    .action(action(createSubscription));
}

function registerList(subs: Command): void {
  subs
    .command("list")
    .description("list subscriptions")
    .option("--topic <topic>", "only those of this topic")
    .option("--json", "one JSON object per line")
    .action(
      action(async (o: { topic?: string; json?: boolean }, cmd: Command) => {
        const { subscriptions } = await connectTo(cmd.optsWithGlobals().url).admin.listSubscriptions({
          topic: o.topic ?? "",
        });
        if (o.json) for (const s of subscriptions) printJson(describeSubscription(s));
        else
          printTable(
            subscriptions.map(describeSubscription),
            "no subscriptions yet; create one with `cebus subscriptions create NAME --topic TOPIC`",
          );
      }),
    );
}

function registerGet(subs: Command): void {
  subs
    .command("get <name>")
    .description("show a subscription's settings")
    .action(
      action(async (name: string, _o: unknown, cmd: Command) => {
        const { subscription } = await connectTo(cmd.optsWithGlobals().url).admin.getSubscription({ name });
        if (subscription) printJson(describeSubscription(subscription));
      }),
    );
}

function registerStats(subs: Command): void {
  subs
    .command("stats <name>")
    .description("backlog, in flight, oldest unacked age, consumers")
    .action(
      action(async (name: string, _o: unknown, cmd: Command) => {
        const { stats } = await connectTo(cmd.optsWithGlobals().url).admin.getSubscriptionStats({ name });
        printJson({
          subscription: name,
          backlog: stats?.backlog ?? 0n,
          inFlight: stats?.inFlight ?? 0n,
          oldestUnackedAgeMs: stats?.oldestUnackedAge ? durationMs(stats.oldestUnackedAge, 0) : null,
          consumers: stats?.consumers ?? 0,
        });
      }),
    );
}

function registerSeek(subs: Command): void {
  subs
    .command("seek <name>")
    .description("move the subscription to a position; events from there on are delivered (again)")
    .requiredOption("--to <position>", "earliest, latest or an ISO time")
    .action(
      action(async (name: string, o: { to: string }, cmd: Command) => {
        await connectTo(cmd.optsWithGlobals().url).admin.seek({
          subscription: name,
          position: parsePosition(o.to, "--to"),
        });
        console.log(`subscription ${name} moved to ${o.to}`);
      }),
    );
}

function registerDelete(subs: Command): void {
  subs
    .command("delete <name>")
    .description("delete a subscription")
    .action(
      action(async (name: string, _o: unknown, cmd: Command) => {
        await connectTo(cmd.optsWithGlobals().url).admin.deleteSubscription({ name });
        console.log(`subscription ${name} deleted`);
      }),
    );
}

/** `cebus subscriptions create|list|get|stats|seek|delete`, in that order in the help. */
export function registerSubscriptions(program: Command): void {
  const subs = program
    .command("subscriptions")
    .description("create, list, inspect, seek and delete subscriptions");
  registerCreate(subs);
  registerList(subs);
  registerGet(subs);
  registerStats(subs);
  registerSeek(subs);
  registerDelete(subs);
}
