import { create } from "@bufbuild/protobuf";
import { CebusError, createAsyncQueue, msToDuration } from "@cebus/core";
import {
  type ConsumeRequest,
  ConsumeRequestSchema,
  type Delivery,
  type FlowControl,
  type Settle,
  type SubscriberService,
} from "@cebus/proto";
import type { Client } from "@connectrpc/connect";
import { toCebusError } from "./errors.js";
import type { Settler } from "./message.js";

/** One connection of a subscription to the broker: a stream of deliveries and a way to settle them. */
export interface Channel {
  readonly settler: Settler;
  /** Runs until the stream ends (resolves) or breaks (rejects); calls `started` once it is open. */
  run(started: () => void, deliveries: (batch: Delivery[]) => void): Promise<void>;
  /** A clean close: the broker releases what this channel holds unsettled, for immediate redelivery. */
  close(): Promise<void>;
}

type Waiter = { id: string; resolve: () => void; reject: (error: CebusError) => void };

const broken = () =>
  new CebusError(
    "unavailable",
    "the connection to the broker broke before the broker confirmed this settle, so it may or may not have been applied; if not, the event is redelivered once its lease expires",
  );

/** After the current turn's I/O and promise jobs (a whole delivery batch is handled by then). */
export const defer: (run: () => void) => void = globalThis.setImmediate ?? ((run) => setTimeout(run, 0));

/**
 * Collects the settles of one event-loop turn into one batch (one round trip, one store transaction). With
 * `maxInFlight`, at most that many batches are on their way at once and later settles wait and join the next batch:
 * under load the batches grow instead of the calls queueing (browsers allow six HTTP/1.1 connections per origin).
 */
function batcher(
  flush: (batch: Waiter[]) => void | Promise<void>,
  maxInFlight = Number.POSITIVE_INFINITY,
): (id: string) => Promise<void> {
  let batch: Waiter[] = [];
  let scheduled = false;
  let inFlight = 0;
  const drain = () => {
    scheduled = false;
    if (batch.length === 0 || inFlight >= maxInFlight) return;
    const full = batch;
    batch = [];
    inFlight++;
    void Promise.resolve(flush(full)).finally(() => {
      inFlight--;
      drain();
    });
  };
  return (id) =>
    new Promise<void>((resolve, reject) => {
      batch.push({ id, resolve, reject });
      if (!scheduled) {
        scheduled = true;
        defer(drain);
      }
    });
}

/** The bidirectional Consume stream (Node): settles travel on the stream and are confirmed on it. */
export function createStreamChannel(
  subscriber: Client<typeof SubscriberService>,
  subscription: string,
  flow: FlowControl,
  url: string,
): Channel {
  const requests = createAsyncQueue<ConsumeRequest>();
  const abort = new AbortController();
  const pending = new Map<bigint, Waiter[]>();
  let nextId = 1n;
  let open = true;
  let ended: () => void = () => {};
  const finished = new Promise<void>((resolve) => {
    ended = resolve;
  });

  const send = (action: Settle["action"], waiters: Waiter[]) => {
    if (!open) {
      for (const w of waiters) w.reject(broken());
      return;
    }
    const requestId = nextId++;
    pending.set(requestId, waiters);
    requests.push(
      create(ConsumeRequestSchema, { request: { case: "settle", value: { requestId, action } } }),
    );
  };
  const single = (action: (id: string) => Settle["action"]) => (id: string) =>
    new Promise<void>((resolve, reject) => send(action(id), [{ id, resolve, reject }]));

  const settler: Settler = {
    ack: batcher((waiters) =>
      send(
        { case: "ack", value: { $typeName: "cebus.v1.AckAction", deliveryIds: waiters.map((w) => w.id) } },
        waiters,
      ),
    ),
    nack: (id, delayMs) =>
      single((i) => ({
        case: "nack",
        value: {
          $typeName: "cebus.v1.NackAction",
          deliveryIds: [i],
          delay: delayMs === undefined ? undefined : msToDuration(delayMs),
        },
      }))(id),
    extend: (id, extensionMs) =>
      single((i) => ({
        case: "extend",
        value: {
          $typeName: "cebus.v1.ExtendAction",
          deliveryIds: [i],
          extension: extensionMs === undefined ? undefined : msToDuration(extensionMs),
        },
      }))(id),
    term: (id, reason) =>
      single((i) => ({
        case: "term",
        value: { $typeName: "cebus.v1.TermAction", deliveryIds: [i], reason },
      }))(id),
  };

  const fail = () => {
    open = false;
    for (const waiters of pending.values()) for (const w of waiters) w.reject(broken());
    pending.clear();
  };

  return {
    settler,
    async run(started, deliveries) {
      requests.push(
        create(ConsumeRequestSchema, { request: { case: "start", value: { subscription, flow } } }),
      );
      try {
        for await (const response of subscriber.consume(requests, { signal: abort.signal })) {
          const r = response.response;
          if (r.case === "started") started();
          else if (r.case === "deliveries") deliveries(r.value.deliveries);
          else if (r.case === "settled") {
            const waiters = pending.get(r.value.requestId) ?? [];
            pending.delete(r.value.requestId);
            const failures = new Map(r.value.failures.map((f) => [f.deliveryId, f]));
            for (const w of waiters) {
              const failure = failures.get(w.id);
              if (!failure) w.resolve();
              else
                w.reject(new CebusError((failure.code || "unknown") as CebusError["code"], failure.message));
            }
          }
        }
      } catch (error) {
        if (!abort.signal.aborted) throw toCebusError(error, url);
      } finally {
        fail();
        requests.end();
        ended();
      }
    },
    async close() {
      // Half-close: the broker releases the in-flight events and ends the stream; cancel if it does not in time.
      requests.end();
      const timer = setTimeout(() => abort.abort(), 3000);
      await finished;
      clearTimeout(timer);
    },
  };
}

/**
 * The server stream Receive plus unary settles (browsers have no bidirectional streams). Acks of one tick go in
 * one call; if the broker rejects it for a stale id, each id is retried alone so one stale delivery does not fail
 * the others.
 */
export function createReceiveChannel(
  subscriber: Client<typeof SubscriberService>,
  subscription: string,
  flow: FlowControl,
  url: string,
): Channel {
  const abort = new AbortController();
  const unsettled = new Set<string>(); // delivered on this channel and not yet settled: nacked on a clean close
  let consumerId = "";
  const call = async (run: () => Promise<unknown>) => {
    try {
      await run();
    } catch (error) {
      throw toCebusError(error, url);
    }
  };
  const ack = batcher((waiters) => ackAll(waiters), 2);
  const ackAll = async (waiters: Waiter[]) => {
    try {
      await call(() => subscriber.ack({ subscription, deliveryIds: waiters.map((w) => w.id) }));
      for (const w of waiters) w.resolve();
    } catch (error) {
      const e = error as CebusError;
      // failed_precondition: the broker rejected the whole batch for one stale id, so each id is tried alone. Any
      // other failure (a broken connection) may have come after the broker applied the batch: retrying would turn
      // an unknown outcome into a false "already settled", so every caller gets the error as it is.
      if (waiters.length > 1 && e.code === "failed_precondition") for (const w of waiters) void ackAll([w]);
      else for (const w of waiters) w.reject(e);
    }
  };
  return {
    settler: {
      ack: (id) => {
        unsettled.delete(id);
        return ack(id);
      },
      nack: (id, delayMs) =>
        call(() => {
          unsettled.delete(id);
          return subscriber.nack({
            subscription,
            deliveryIds: [id],
            delay: delayMs === undefined ? undefined : msToDuration(delayMs),
          });
        }),
      extend: (id, extensionMs) =>
        call(() =>
          subscriber.extendLease({
            subscription,
            deliveryIds: [id],
            extension: extensionMs === undefined ? undefined : msToDuration(extensionMs),
          }),
        ),
      term: (id, reason) =>
        call(() => {
          unsettled.delete(id);
          return subscriber.term({ subscription, deliveryIds: [id], reason });
        }),
    },
    async run(started, deliveries) {
      let first = true;
      try {
        for await (const response of subscriber.receive({ subscription, flow }, { signal: abort.signal })) {
          if (first) {
            first = false;
            consumerId = response.consumerId;
            started();
          }
          for (const d of response.deliveries) unsettled.add(d.deliveryId);
          if (response.deliveries.length > 0) deliveries(response.deliveries);
        }
      } catch (error) {
        if (!abort.signal.aborted) throw toCebusError(error, url);
      }
    },
    async close() {
      // EndReceive releases everything the consumer holds, including deliveries still in flight to us; cancelling
      // alone would keep those leased until their deadline. Best effort: what cannot be released now (a broker
      // that is gone) comes back at its ack deadline.
      const released = consumerId
        ? await subscriber.endReceive({ subscription, consumerId }).then(
            () => true,
            () => false,
          )
        : false;
      abort.abort();
      const held = [...unsettled];
      unsettled.clear();
      if (!released && held.length > 0) {
        await subscriber.nack({ subscription, deliveryIds: held }).catch(() => {});
      }
    },
  };
}
