import type { CebusError } from "@cebus/core";
import type { Delivery } from "@cebus/proto";
import type { Settler } from "./message.js";

/** One connection of a subscription to the broker: a stream of deliveries and a way to settle them. */
export interface Channel {
  readonly settler: Settler;
  /** Runs until the stream ends (resolves) or breaks (rejects); calls `started` once it is open. */
  run(started: () => void, deliveries: (batch: Delivery[]) => void): Promise<void>;
  /** A clean close: the broker releases what this channel holds unsettled, for immediate redelivery. */
  close(): Promise<void>;
}

/** A settle waiting for the broker's answer. */
export type Waiter = { id: string; resolve: () => void; reject: (error: CebusError) => void };

/** After the current turn's I/O and promise jobs (a whole delivery batch is handled by then). */
export const defer: (run: () => void) => void = globalThis.setImmediate ?? ((run) => setTimeout(run, 0));

interface BatcherState {
  readonly flush: (batch: Waiter[]) => void | Promise<void>;
  readonly maxInFlight: number;
  batch: Waiter[];
  scheduled: boolean;
  inFlight: number;
}

/**
 * Collects the settles of one event-loop turn into one batch (one round trip, one store transaction). With
 * `maxInFlight`, at most that many batches are on their way at once and later settles wait and join the next batch:
 * under load the batches grow instead of the calls queueing (browsers allow six HTTP/1.1 connections per origin).
 */
export function createSettleBatcher(
  flush: (batch: Waiter[]) => void | Promise<void>,
  maxInFlight = Number.POSITIVE_INFINITY,
): (id: string) => Promise<void> {
  const state: BatcherState = { flush, maxInFlight, batch: [], scheduled: false, inFlight: 0 };
  return (id) =>
    new Promise<void>((resolve, reject) => {
      state.batch.push({ id, resolve, reject });
      if (!state.scheduled) {
        state.scheduled = true;
        defer(() => drain(state));
      }
    });
}

function drain(state: BatcherState): void {
  state.scheduled = false;
  if (state.batch.length === 0 || state.inFlight >= state.maxInFlight) return;
  const full = state.batch;
  state.batch = [];
  state.inFlight++;
  void Promise.resolve(state.flush(full)).finally(() => {
    state.inFlight--;
    drain(state);
  });
}
