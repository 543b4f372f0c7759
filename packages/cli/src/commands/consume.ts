import { create } from "@bufbuild/protobuf";
import { type CebusClient, createClient, type Message, type Subscription } from "@cebus/client";
import { CebusError, eventData, toCloudEventJson } from "@cebus/core";
import { SubscriptionSchema } from "@cebus/proto";
import type { Command } from "commander";
import { action } from "../connection.js";
import { wholeNumber } from "../flags.js";
import { printJson } from "../output.js";
import { parsePosition } from "./subscriptions.js";

/**
 * `cebus consume`: prints events and acks them, through @cebus/client (the Consume stream, acks batched and
 * confirmed, reconnects with backoff). `--max N` prints N events, waits for their acks to be confirmed and closes
 * cleanly, so the broker releases at once whatever it sent beyond them.
 */

interface ConsumeFlags {
  subscription?: string;
  max?: number;
  json?: boolean;
  from?: string;
}

/** Reconnects in a row (without a stream opening in between) before the command gives up. */
const maxReconnects = 5;

/** One consume run: what was printed, the acks on their way, and why it stopped early (if it did). */
interface Run {
  readonly max: number;
  readonly json: boolean;
  readonly subscription: Subscription;
  printed: number;
  readonly acks: Promise<void>[];
  /** An error that ends the run (an unreachable broker, too many reconnects). */
  failure: CebusError | undefined;
}

function line(m: Message): string {
  const data = eventData(m.event);
  const shown =
    data instanceof Uint8Array
      ? `<${data.byteLength} bytes>`
      : typeof data === "string"
        ? data
        : JSON.stringify(data);
  return `${m.partition}:${m.offset} ${m.type} ${m.source} ${m.id}${m.attempt > 1 ? ` (attempt ${m.attempt})` : ""} ${shown ?? ""}`;
}

/** Creates a subscription of the topic that only this run uses (deleted at the end). */
async function createTemporarySubscription(
  client: CebusClient,
  topic: string,
  from: string,
): Promise<string> {
  const name = `cebus-consume-${crypto.randomUUID().slice(0, 8)}`;
  const startPosition = parsePosition(from, "--from");
  const subscription = create(SubscriptionSchema, { name, topic, startPosition });
  await client.raw.admin.createSubscription({ subscription });
  return name;
}

function print(run: Run, message: Message): void {
  if (run.json) printJson(toCloudEventJson(message.event));
  else console.log(line(message));
  run.printed++;
  run.acks.push(
    message.ack().catch((error: CebusError) => {
      process.stderr.write(`warning: ack of ${message.id} failed: ${error.message}\n`);
    }),
  );
}

/**
 * Follows the subscription's status: a broker that cannot be reached before the first stream opens ends the run
 * with that error; each reconnect is reported; more than `maxReconnects` in a row end the run.
 */
async function watch(run: Run): Promise<void> {
  let everConnected = false;
  let inRow = 0;
  for await (const status of run.subscription.status()) {
    if (status.type === "connected") {
      everConnected = true;
      inRow = 0;
    } else if (status.type === "disconnected" && status.error && !everConnected) {
      stop(run, status.error);
    } else if (status.type === "reconnecting") {
      if (++inRow > maxReconnects) {
        stop(
          run,
          new CebusError(
            "unavailable",
            `the broker ended or dropped the stream ${inRow} times in a row after ${run.printed} events; check that it is running, and its log`,
          ),
        );
      } else {
        process.stderr.write(
          `warning: the broker ended or dropped the stream after ${run.printed} events; reconnecting\n`,
        );
      }
    }
  }
}

function stop(run: Run, failure: CebusError): void {
  run.failure ??= failure;
  void run.subscription.close();
}

/** Prints until --max (then waits for the acks to be confirmed) or until the subscription ends. */
async function printUntilDone(run: Run): Promise<void> {
  for await (const message of run.subscription) {
    print(run, message);
    if (run.printed >= run.max) {
      await Promise.all(run.acks); // confirmed before the close releases the rest
      break;
    }
  }
}

async function consume(topic: string | undefined, flags: ConsumeFlags, cmd: Command): Promise<void> {
  if (!topic === !flags.subscription) {
    throw new CebusError("invalid_argument", "give a topic or --subscription NAME (one of them)");
  }
  const client = createClient({ url: cmd.optsWithGlobals().url });
  const name = topic
    ? await createTemporarySubscription(client, topic, flags.from ?? "latest")
    : (flags.subscription as string);
  const max = flags.max ?? Number.POSITIVE_INFINITY;
  const subscription = client.subscribe(name, {
    maxOutstanding: Number.isFinite(max) ? Math.min(max, 500) : 500,
  });
  const run: Run = { max, json: flags.json ?? false, subscription, printed: 0, acks: [], failure: undefined };
  const interrupt = () => void subscription.close(); // Ctrl-C ends as cleanly as --max does
  process.once("SIGINT", interrupt);
  process.once("SIGTERM", interrupt);
  const watching = watch(run);
  try {
    await printUntilDone(run);
  } finally {
    await subscription.close();
    await watching;
    process.off("SIGINT", interrupt);
    process.off("SIGTERM", interrupt);
    if (topic) await client.admin.deleteSubscription(name).catch(() => {});
    await client.close();
  }
  if (run.failure) throw run.failure;
}

export function registerConsume(program: Command): void {
  program
    .command("consume [topic]")
    .description(
      "print events and ack them: from a subscription, or from a topic through a temporary subscription",
    )
    .option("--subscription <name>", "consume this subscription")
    .option(
      "--max <n>",
      "stop after n events (the rest stay in the subscription, not leased)",
      wholeNumber(1),
    )
    .option("--json", "print each event as one CloudEvents JSON object per line")
    .option("--from <position>", "with a topic: earliest, latest or an ISO time [latest]")
    .action(action(consume));
}
