import { type AsyncQueue, type CebusError, createAsyncQueue, isPermanent } from "@cebus/core";
import type { Channel } from "./channels.js";
import { createMessage, type Message } from "./message.js";
import { createSequenceCheck, type SequenceAnomaly, type SequenceCheck } from "./sequence-check.js";

export type SubscriptionStatus =
  | { type: "connected" }
  | { type: "disconnected"; error?: CebusError }
  | { type: "reconnecting"; delayMs: number; attempt: number }
  | { type: "error"; error: CebusError }
  | SequenceAnomaly;

/** A live subscription: an async iterable of messages that reconnects by itself until closed. */
export interface Subscription extends AsyncIterable<Message>, AsyncDisposable {
  /**
   * Status changes (connected, disconnected, reconnecting, error), in order, like nats.js `status()`; with
   * `sequenceCheck`, also the order anomalies of first deliveries (sequence-check.ts).
   */
  status(): AsyncIterable<SubscriptionStatus>;
  /** Stops receiving; the iteration ends. Unsettled messages are released by the broker for redelivery. */
  close(): Promise<void>;
}

/** Reconnect backoff (docs/sdk-contract.md): from 100 ms, doubling up to 5 s, with half jitter. */
export const reconnectDelay = { firstMs: 100, maxMs: 5000 };

/** The wait before a reconnect whose backoff is `delayMs`: half of it fixed, half random. */
export function jittered(delayMs: number, random: () => number = Math.random): number {
  return Math.round(delayMs / 2 + random() * (delayMs / 2));
}

interface SubscriptionState {
  readonly open: () => Channel;
  readonly messages: AsyncQueue<Message>;
  readonly statuses: AsyncQueue<SubscriptionStatus>;
  readonly sequence: SequenceCheck | undefined;
  channel: Channel | undefined;
  closed: boolean;
  /** Ends the wait before the next reconnect (on close). */
  wake: (() => void) | undefined;
  /** The backoff of the next reconnect, and how many reconnects since the last open stream. */
  delayMs: number;
  attempt: number;
}

export function createSubscription(
  open: () => Channel,
  options: { sequenceCheck?: boolean } = {},
): Subscription {
  const state: SubscriptionState = {
    open,
    messages: createAsyncQueue<Message>(),
    statuses: createAsyncQueue<SubscriptionStatus>(),
    sequence: options.sequenceCheck ? createSequenceCheck() : undefined,
    channel: undefined,
    closed: false,
    wake: undefined,
    delayMs: reconnectDelay.firstMs,
    attempt: 0,
  };
  const loop = runConnections(state);
  const subscription: Subscription = {
    [Symbol.asyncIterator]: () => iterate(state, subscription),
    status: () => state.statuses,
    close: () => close(state, loop),
    [Symbol.asyncDispose]: () => subscription.close(),
  };
  return subscription;
}

/** Opens one channel after another until the subscription is closed or meets a permanent error. */
async function runConnections(state: SubscriptionState): Promise<void> {
  while (!state.closed) {
    if ((await runChannel(state)) === "stop") break;
    if (state.closed) break;
    state.attempt++;
    const waitMs = jittered(state.delayMs);
    state.statuses.push({ type: "reconnecting", delayMs: waitMs, attempt: state.attempt });
    await sleepUnlessWoken(state, waitMs);
    state.delayMs = Math.min(state.delayMs * 2, reconnectDelay.maxMs);
  }
  state.messages.end();
  state.statuses.end();
}

/** Runs one channel until it ends: "again" to reconnect, "stop" after a permanent error (the iteration ends with it). */
async function runChannel(state: SubscriptionState): Promise<"again" | "stop"> {
  const channel = state.open();
  state.channel = channel;
  try {
    await channel.run(
      () => connected(state),
      (batch) => {
        for (const delivery of batch) received(state, createMessage(delivery, channel.settler));
      },
    );
    if (!state.closed) state.statuses.push({ type: "disconnected" }); // the broker ended it (e.g. draining)
    return "again";
  } catch (reason) {
    const error = reason as CebusError;
    if (state.closed) return "stop";
    if (isPermanent(error)) {
      state.statuses.push({ type: "error", error });
      state.messages.end(error);
      return "stop";
    }
    state.statuses.push({ type: "disconnected", error });
    return "again";
  }
}

function received(state: SubscriptionState, message: Message): void {
  const anomaly = state.sequence?.check(message);
  if (anomaly) state.statuses.push(anomaly);
  state.messages.push(message);
}

function connected(state: SubscriptionState): void {
  state.delayMs = reconnectDelay.firstMs;
  state.attempt = 0;
  state.statuses.push({ type: "connected" });
}

function sleepUnlessWoken(state: SubscriptionState, ms: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    state.wake = () => {
      clearTimeout(timer);
      resolve();
    };
  });
}

/** The message iterator; leaving a `for await` loop (break, return, throw) closes the subscription. */
function iterate(state: SubscriptionState, subscription: Subscription): AsyncIterator<Message> {
  const iterator = state.messages[Symbol.asyncIterator]();
  return {
    next: () => iterator.next(),
    return: async () => {
      await subscription.close();
      return { value: undefined, done: true };
    },
  };
}

async function close(state: SubscriptionState, loop: Promise<void>): Promise<void> {
  if (state.closed) return;
  state.closed = true;
  state.wake?.();
  await state.channel?.close();
  await loop;
}
