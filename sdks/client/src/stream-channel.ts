import { create } from "@bufbuild/protobuf";
import { CebusError, createAsyncQueue, msToDuration } from "@cebus/core";
import {
  type ConsumeRequest,
  ConsumeRequestSchema,
  type ConsumeResponse,
  type Delivery,
  type FlowControl,
  type Settle,
  type SettleResult,
  type SubscriberService,
} from "@cebus/proto";
import type { Client } from "@connectrpc/connect";
import { type Channel, createSettleBatcher, defer, type Waiter } from "./channels.js";
import { toCebusError } from "./errors.js";
import type { Settler } from "./message.js";

/**
 * The bidirectional Consume stream (Node): the acks of one turn travel on the stream as one Settle, and each
 * settle is confirmed on it by a SettleResult with the same request id.
 */

/** A settle asked after its stream ended (or began to close): never sent, so certainly not applied. */
const ended = () =>
  new CebusError(
    "failed_precondition",
    "the stream this message came on has ended, so this settle was not sent; the broker redelivers the event (at once after a clean close, else when its lease expires): settle the redelivered message",
  );

const broken = () =>
  new CebusError(
    "unavailable",
    "the connection to the broker broke before the broker confirmed this settle, so it may or may not have been applied; if not, the event is redelivered once its lease expires",
  );

interface StreamState {
  readonly subscriber: Client<typeof SubscriberService>;
  readonly subscription: string;
  readonly flow: FlowControl;
  readonly url: string;
  readonly requests: ReturnType<typeof createAsyncQueue<ConsumeRequest>>;
  readonly abort: AbortController;
  /** Settles sent and not yet confirmed, by request id. */
  readonly pending: Map<bigint, Waiter[]>;
  nextId: bigint;
  /** Settles may still be sent: the stream runs and its request side is not closed. */
  open: boolean;
  ended: () => void;
  readonly finished: Promise<void>;
}

export function createStreamChannel(
  subscriber: Client<typeof SubscriberService>,
  subscription: string,
  flow: FlowControl,
  url: string,
): Channel {
  let ended: () => void = () => {};
  const finished = new Promise<void>((resolve) => {
    ended = resolve;
  });
  const state: StreamState = {
    subscriber,
    subscription,
    flow,
    url,
    requests: createAsyncQueue<ConsumeRequest>(),
    abort: new AbortController(),
    pending: new Map(),
    nextId: 1n,
    open: true,
    ended,
    finished,
  };
  return {
    settler: settlerOf(state),
    run: (started, deliveries) => run(state, started, deliveries),
    close: () => close(state),
  };
}

/** Sends one settle action for these waiters (they fail at once when the stream is gone). */
function send(state: StreamState, action: Settle["action"], waiters: Waiter[]): void {
  if (!state.open) {
    for (const w of waiters) w.reject(ended());
    return;
  }
  const requestId = state.nextId++;
  state.pending.set(requestId, waiters);
  state.requests.push(
    create(ConsumeRequestSchema, { request: { case: "settle", value: { requestId, action } } }),
  );
}

/** One settle of one delivery. */
function single(state: StreamState, id: string, action: Settle["action"]): Promise<void> {
  return new Promise<void>((resolve, reject) => send(state, action, [{ id, resolve, reject }]));
}

function settlerOf(state: StreamState): Settler {
  const ack = createSettleBatcher((waiters) =>
    send(
      state,
      { case: "ack", value: { $typeName: "cebus.v1.AckAction", deliveryIds: waiters.map((w) => w.id) } },
      waiters,
    ),
  );
  return {
    ack,
    nack: (id, delayMs) =>
      single(state, id, {
        case: "nack",
        value: {
          $typeName: "cebus.v1.NackAction",
          deliveryIds: [id],
          delay: delayMs === undefined ? undefined : msToDuration(delayMs),
        },
      }),
    extend: (id, extensionMs) =>
      single(state, id, {
        case: "extend",
        value: {
          $typeName: "cebus.v1.ExtendAction",
          deliveryIds: [id],
          extension: extensionMs === undefined ? undefined : msToDuration(extensionMs),
        },
      }),
    term: (id, reason) =>
      single(state, id, {
        case: "term",
        value: { $typeName: "cebus.v1.TermAction", deliveryIds: [id], reason },
      }),
  };
}

async function run(
  state: StreamState,
  started: () => void,
  deliveries: (batch: Delivery[]) => void,
): Promise<void> {
  const { subscription, flow } = state;
  state.requests.push(
    create(ConsumeRequestSchema, { request: { case: "start", value: { subscription, flow } } }),
  );
  try {
    for await (const response of state.subscriber.consume(state.requests, { signal: state.abort.signal })) {
      receive(state, response, started, deliveries);
    }
  } catch (error) {
    if (!state.abort.signal.aborted) throw toCebusError(error, state.url);
  } finally {
    fail(state);
    state.requests.end();
    state.ended();
  }
}

function receive(
  state: StreamState,
  response: ConsumeResponse,
  started: () => void,
  deliveries: (batch: Delivery[]) => void,
): void {
  const r = response.response;
  if (r.case === "started") started();
  else if (r.case === "deliveries") deliveries(r.value.deliveries);
  else if (r.case === "settled") confirm(state, r.value);
}

/** A SettleResult: each waiter of its request resolves, or fails with the broker's code for its delivery. */
function confirm(state: StreamState, result: SettleResult): void {
  const waiters = state.pending.get(result.requestId) ?? [];
  state.pending.delete(result.requestId);
  const failures = new Map(result.failures.map((f) => [f.deliveryId, f]));
  for (const w of waiters) {
    const failure = failures.get(w.id);
    if (!failure) w.resolve();
    else w.reject(new CebusError((failure.code || "unknown") as CebusError["code"], failure.message));
  }
}

/** The stream is gone: every settle still waiting for its confirmation has an unknown outcome. */
function fail(state: StreamState): void {
  state.open = false;
  for (const waiters of state.pending.values()) for (const w of waiters) w.reject(broken());
  state.pending.clear();
}

/**
 * Half-close: the broker releases the in-flight events and ends the stream; cancel if it does not in time. Acks
 * made in this turn are sent first (their batch goes on the deferred turn), so `ack(); close()` loses none.
 */
async function close(state: StreamState): Promise<void> {
  await new Promise<void>((resolve) => defer(resolve));
  state.open = false;
  state.requests.end();
  const timer = setTimeout(() => state.abort.abort(), 3000);
  await state.finished;
  clearTimeout(timer);
}
