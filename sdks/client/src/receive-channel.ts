import type { CebusError } from "@cebus/core";
import { msToDuration } from "@cebus/core";
import type { Delivery, FlowControl, SubscriberService } from "@cebus/proto";
import type { Client } from "@connectrpc/connect";
import { type Channel, createSettleBatcher, type Waiter } from "./channels.js";
import { toCebusError } from "./errors.js";
import type { Settler } from "./message.js";

/**
 * The server stream Receive plus unary settles (browsers have no bidirectional streams). Acks of one tick go in
 * one call; if the broker rejects it for a stale id, each id is retried alone so one stale delivery does not fail
 * the others.
 */

interface ReceiveState {
  readonly subscriber: Client<typeof SubscriberService>;
  readonly subscription: string;
  readonly flow: FlowControl;
  readonly url: string;
  readonly abort: AbortController;
  /** Delivered on this channel and not yet settled: nacked on a clean close if EndReceive could not release them. */
  readonly unsettled: Set<string>;
  consumerId: string;
}

export function createReceiveChannel(
  subscriber: Client<typeof SubscriberService>,
  subscription: string,
  flow: FlowControl,
  url: string,
): Channel {
  const state: ReceiveState = {
    subscriber,
    subscription,
    flow,
    url,
    abort: new AbortController(),
    unsettled: new Set(),
    consumerId: "",
  };
  return {
    settler: settlerOf(state),
    run: (started, deliveries) => run(state, started, deliveries),
    close: () => close(state),
  };
}

async function call(state: ReceiveState, run: () => Promise<unknown>): Promise<void> {
  try {
    await run();
  } catch (error) {
    throw toCebusError(error, state.url);
  }
}

/**
 * One Ack call for a batch. failed_precondition: the broker rejected the whole batch for one stale id, so each id
 * is tried alone. Any other failure (a broken connection) may have come after the broker applied the batch:
 * retrying would turn an unknown outcome into a false "already settled", so every caller gets the error as it is.
 */
async function ackAll(state: ReceiveState, waiters: Waiter[]): Promise<void> {
  const { subscriber, subscription } = state;
  try {
    await call(state, () => subscriber.ack({ subscription, deliveryIds: waiters.map((w) => w.id) }));
    for (const w of waiters) w.resolve();
  } catch (error) {
    const e = error as CebusError;
    if (waiters.length > 1 && e.code === "failed_precondition")
      for (const w of waiters) void ackAll(state, [w]);
    else for (const w of waiters) w.reject(e);
  }
}

function settlerOf(state: ReceiveState): Settler {
  const { subscriber, subscription, unsettled } = state;
  const ack = createSettleBatcher((waiters) => ackAll(state, waiters), 2);
  return {
    ack: (id) => {
      unsettled.delete(id);
      return ack(id);
    },
    nack: (id, delayMs) =>
      call(state, () => {
        unsettled.delete(id);
        const delay = delayMs === undefined ? undefined : msToDuration(delayMs);
        return subscriber.nack({ subscription, deliveryIds: [id], delay });
      }),
    extend: (id, extensionMs) =>
      call(state, () => {
        const extension = extensionMs === undefined ? undefined : msToDuration(extensionMs);
        return subscriber.extendLease({ subscription, deliveryIds: [id], extension });
      }),
    term: (id, reason) =>
      call(state, () => {
        unsettled.delete(id);
        return subscriber.term({ subscription, deliveryIds: [id], reason });
      }),
  };
}

async function run(
  state: ReceiveState,
  started: () => void,
  deliveries: (batch: Delivery[]) => void,
): Promise<void> {
  const { subscriber, subscription, flow } = state;
  let first = true;
  try {
    for await (const response of subscriber.receive({ subscription, flow }, { signal: state.abort.signal })) {
      if (first) {
        first = false;
        state.consumerId = response.consumerId;
        started();
      }
      for (const d of response.deliveries) state.unsettled.add(d.deliveryId);
      if (response.deliveries.length > 0) deliveries(response.deliveries);
    }
  } catch (error) {
    if (!state.abort.signal.aborted) throw toCebusError(error, state.url);
  }
}

/**
 * EndReceive releases everything the consumer holds, including deliveries still in flight to us; cancelling alone
 * would keep those leased until their deadline. Best effort: what cannot be released now (a broker that is gone)
 * comes back at its ack deadline.
 */
async function close(state: ReceiveState): Promise<void> {
  const { subscriber, subscription, consumerId } = state;
  const released = consumerId
    ? await subscriber.endReceive({ subscription, consumerId }).then(
        () => true,
        () => false,
      )
    : false;
  state.abort.abort();
  const held = [...state.unsettled];
  state.unsettled.clear();
  if (!released && held.length > 0) {
    await subscriber.nack({ subscription, deliveryIds: held }).catch(() => {});
  }
}
