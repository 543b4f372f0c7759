import { create } from "@bufbuild/protobuf";
import { type AsyncQueue, CebusError, createAsyncQueue, eventData, toCloudEventJson } from "@cebus/core";
import { type ConsumeRequest, ConsumeRequestSchema, type Delivery, SubscriptionSchema } from "@cebus/proto";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Command } from "commander";
import { action, type Connection, connectTo } from "../connection.js";
import { wholeNumber } from "../flags.js";
import { printJson } from "../output.js";
import { parsePosition } from "./subscriptions.js";

interface ConsumeFlags {
  subscription?: string;
  max?: number;
  json?: boolean;
  from?: string;
}

/** How long a clean end (half-close, the broker releases what it sent but we did not print) may take. */
const endGraceMs = 5_000;

/** One consume run: what was printed, which ack batches await confirmation, and the request stream. */
interface Run {
  readonly max: number;
  readonly json: boolean;
  /** The request side of the current stream (a new one after a reconnect). */
  requests: AsyncQueue<ConsumeRequest>;
  printed: number;
  confirmed: number;
  requestId: bigint;
  readonly pending: Map<bigint, number>;
  ending: boolean;
}

function line(d: Delivery): string {
  const e = d.event;
  const data = e ? eventData(e) : undefined;
  const shown =
    data instanceof Uint8Array
      ? `<${data.byteLength} bytes>`
      : typeof data === "string"
        ? data
        : JSON.stringify(data);
  return `${d.partition}:${d.offset} ${e?.type} ${e?.source} ${e?.id}${d.attempt > 1 ? ` (attempt ${d.attempt})` : ""} ${shown ?? ""}`;
}

/** Creates a subscription of the topic that only this run uses (deleted at the end). */
async function createTemporarySubscription(c: Connection, topic: string, from: string): Promise<string> {
  const name = `cebus-consume-${crypto.randomUUID().slice(0, 8)}`;
  await c.admin.createSubscription({
    subscription: create(SubscriptionSchema, {
      name,
      topic,
      startPosition: parsePosition(from, "--from"),
    }),
  });
  return name;
}

function startRequest(subscription: string, max: number): ConsumeRequest {
  return create(ConsumeRequestSchema, {
    request: {
      case: "start",
      value: {
        subscription,
        consumerName: "cebus consume",
        flow: { maxOutstandingEvents: Number.isFinite(max) ? Math.min(max, 500) : 500 },
      },
    },
  });
}

/** Prints the deliveries still wanted and acks them with a confirmed settle; the rest are left to the end. */
function printAndAck(run: Run, deliveries: Delivery[]): void {
  if (run.ending) return; // past --max: the broker releases them when the stream ends
  const batch = deliveries.slice(0, Math.max(0, run.max - run.printed));
  for (const d of batch) {
    if (run.json && d.event) printJson(toCloudEventJson(d.event));
    else console.log(line(d));
  }
  run.printed += batch.length;
  if (batch.length === 0) return;
  run.requestId++;
  run.pending.set(run.requestId, batch.length);
  run.requests.push(
    create(ConsumeRequestSchema, {
      request: {
        case: "settle",
        value: {
          requestId: run.requestId,
          action: { case: "ack", value: { deliveryIds: batch.map((d) => d.deliveryId) } },
        },
      },
    }),
  );
}

/**
 * Ends the run cleanly: half-closing the request stream makes the broker close this consumer and release every
 * delivery it sent that was not acked, so nothing stays leased until the ack deadline.
 */
function endRun(run: Run, abort: AbortController): void {
  if (run.ending) return;
  run.ending = true;
  run.requests.end();
  setTimeout(() => abort.abort(), endGraceMs).unref();
}

/** How often a stream the broker ended early (a broker restart, a lost connection) is opened again. */
const maxReconnects = 5;
/** The wait before reconnecting to an unreachable broker, times the attempt (0.5 s, 1 s, ... 3 s in all 7.5 s). */
const reconnectDelayMs = 500;

/**
 * A connection refused or broken, the broker restarting: worth opening the stream again. A broker killed mid-stream
 * shows as an HTTP/2 stream reset with CANCEL, which connect-node reports as canceled (our own aborts are checked
 * before this is asked).
 */
function isTransient(error: unknown): boolean {
  return error instanceof ConnectError && (error.code === Code.Unavailable || error.code === Code.Canceled);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

async function consumeStream(c: Connection, run: Run, abort: AbortController): Promise<void> {
  for await (const response of c.subscriber.consume(run.requests, { signal: abort.signal })) {
    const r = response.response;
    if (r.case === "deliveries") printAndAck(run, r.value.deliveries);
    else if (r.case === "settled") {
      const failure = r.value.failures[0];
      if (failure) process.stderr.write(`warning: ack of ${failure.deliveryId} failed: ${failure.message}\n`);
      run.confirmed += run.pending.get(r.value.requestId) ?? 0;
      run.pending.delete(r.value.requestId);
      if (run.confirmed >= run.max) endRun(run, abort);
    }
  }
}

/**
 * Runs streams until the run ends: a stream the broker ends before --max is reached, or that breaks because the
 * broker is unreachable for a moment (a restart), is opened again (its unconfirmed acks may not have been
 * applied; the broker released or will redeliver what it had sent), so --max N prints N events.
 */
async function consumeUntilDone(
  c: Connection,
  run: Run,
  subscription: string,
  abort: AbortController,
): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    run.requests.push(startRequest(subscription, run.max - run.printed));
    const lost = await consumeStream(c, run, abort).then(
      () => undefined,
      (error: unknown) => {
        // a broker unreachable from the start (nothing received yet) gets the one clear connection error
        if (abort.signal.aborted || (attempt === 0 && run.printed === 0) || !isTransient(error)) throw error;
        return error;
      },
    );
    if (run.ending || abort.signal.aborted || run.printed >= run.max) return;
    if (attempt === maxReconnects) {
      throw new CebusError(
        "unavailable",
        `the broker ended or dropped the stream ${maxReconnects + 1} times after ${run.printed} events; check that it is running, and its log`,
      );
    }
    const why = lost ? `was unreachable (${(lost as Error).message})` : "ended the stream";
    process.stderr.write(`warning: the broker ${why} after ${run.printed} events; reconnecting\n`);
    if (lost) await sleep(reconnectDelayMs * (attempt + 1), abort.signal);
    run.requests = createAsyncQueue<ConsumeRequest>();
    // Acks the old stream did not confirm are given up (their events may come back and be printed again).
    run.pending.clear();
    run.confirmed = run.printed;
  }
}

async function consume(topic: string | undefined, flags: ConsumeFlags, cmd: Command): Promise<void> {
  if (!topic === !flags.subscription) {
    throw new CebusError("invalid_argument", "give a topic or --subscription NAME (one of them)");
  }
  const c = connectTo(cmd.optsWithGlobals().url);
  const max = flags.max ?? Number.POSITIVE_INFINITY;
  const subscription = topic
    ? await createTemporarySubscription(c, topic, flags.from ?? "latest")
    : (flags.subscription as string);
  const run: Run = {
    max,
    json: flags.json ?? false,
    requests: createAsyncQueue<ConsumeRequest>(),
    printed: 0,
    confirmed: 0,
    requestId: 0n,
    pending: new Map(),
    ending: false,
  };
  const abort = new AbortController();
  const stop = () => endRun(run, abort); // Ctrl-C ends as cleanly as --max does
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  try {
    await consumeUntilDone(c, run, subscription, abort);
  } catch (error) {
    if (!abort.signal.aborted) throw error;
  } finally {
    run.requests.end();
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
    if (topic) await c.admin.deleteSubscription({ name: subscription }).catch(() => {});
  }
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
