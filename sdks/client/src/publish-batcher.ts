import { type CebusError, validateEvent } from "@cebus/core";
import type { CloudEvent } from "@cebus/proto";
import { defer } from "./channels.js";

/** How single-event publishes are gathered into batches (like a Kafka producer's linger.ms and batch.size). */
export interface BatchingOptions {
  /**
   * Wait at most this long for more events before sending a batch [0]. 0 sends on the next turn of the event loop,
   * so a single publish on an idle connection goes at once and a synchronous loop of publishes still shares one
   * batch; while `maxInFlight` batches are out, events gather anyway.
   */
  lingerMs?: number;
  /** Most events in one batch [500]. */
  maxEvents?: number;
  /** Most bytes (approximately, by data size) in one batch [1 MiB]. */
  maxBytes?: number;
  /** Most batches of one topic in flight at once; further batches queue until one returns, and grow meanwhile [2]. */
  maxInFlight?: number;
}

export interface BatchResult {
  partition: number;
  offset: number;
  duplicate: boolean;
}

/** A scheduled linger: a timeout, or (for 0) a run after the current turn's I/O and promise jobs. */
type Timer = { cancelled: boolean; timeout?: ReturnType<typeof setTimeout> };

/** Runs `fn` after `ms`, or on the next turn of the event loop for 0 (setTimeout's minimum is 1 ms). */
function schedule(fn: () => void, ms: number): Timer {
  const timer: Timer = { cancelled: false };
  if (ms > 0) timer.timeout = setTimeout(fn, ms);
  else defer(() => timer.cancelled || fn());
  return timer;
}

function cancel(timer: Timer): void {
  timer.cancelled = true;
  if (timer.timeout) clearTimeout(timer.timeout);
}

type Pending = { event: CloudEvent; resolve: (r: BatchResult) => void; reject: (e: CebusError) => void };

const sizeOf = (event: CloudEvent): number => {
  const data = event.data;
  const body =
    data.case === "binaryData" ? data.value.byteLength : data.case === "textData" ? data.value.length : 0;
  return body + event.id.length + event.source.length + event.type.length + 64;
};

/** A batcher's limits and the batches it holds. */
interface BatcherState {
  readonly send: (events: CloudEvent[]) => Promise<BatchResult[]>;
  readonly lingerMs: number;
  readonly maxEvents: number;
  readonly maxBytes: number;
  readonly maxInFlight: number;
  /** The batch still taking events, and its approximate size. */
  open: Pending[];
  openBytes: number;
  timer: Timer | undefined;
  /** The open batch waited its linger time and goes as soon as a slot frees. */
  lingered: boolean;
  inFlight: number;
  /** Full or lingered batches waiting for an in-flight slot. */
  readonly ready: Pending[][];
  /** Resolved once the batcher holds nothing (flush). */
  idleWaiters: (() => void)[];
}

/**
 * Gathers single publishes of one topic into batches: a batch goes when it is full or when `lingerMs` passed
 * since its first event, with at most `maxInFlight` batches outstanding. Each caller gets its own event's result.
 * Events are validated first, so one malformed event fails alone instead of failing its whole batch.
 */
export function createPublishBatcher(
  send: (events: CloudEvent[]) => Promise<BatchResult[]>,
  options: BatchingOptions = {},
): PublishBatcher {
  const state: BatcherState = {
    send,
    lingerMs: options.lingerMs ?? 0,
    maxEvents: options.maxEvents ?? 500,
    maxBytes: options.maxBytes ?? 1024 * 1024,
    maxInFlight: options.maxInFlight ?? 2,
    open: [],
    openBytes: 0,
    timer: undefined,
    lingered: false,
    inFlight: 0,
    ready: [],
    idleWaiters: [],
  };
  return { publish: (event) => publish(state, event), flush: () => flush(state) };
}

export interface PublishBatcher {
  publish(event: CloudEvent): Promise<BatchResult>;
  /** Sends what the batcher holds at once (no linger) and resolves once every batch of it is answered. */
  flush(): Promise<void>;
}

function flush(state: BatcherState): Promise<void> {
  seal(state);
  if (isIdle(state)) return Promise.resolve();
  return new Promise<void>((resolve) => state.idleWaiters.push(resolve));
}

function isIdle(state: BatcherState): boolean {
  return state.open.length === 0 && state.ready.length === 0 && state.inFlight === 0;
}

function publish(state: BatcherState, event: CloudEvent): Promise<BatchResult> {
  try {
    validateEvent(event);
  } catch (error) {
    return Promise.reject(error);
  }
  return new Promise<BatchResult>((resolve, reject) => {
    const size = sizeOf(event);
    if (state.open.length > 0 && state.openBytes + size > state.maxBytes) seal(state);
    state.open.push({ event, resolve, reject });
    state.openBytes += size;
    if (state.open.length >= state.maxEvents) seal(state);
    else if (!state.timer && !state.lingered) state.timer = schedule(() => onLinger(state), state.lingerMs);
  });
}

/** Sends ready batches while slots are free. */
function dispatch(state: BatcherState): void {
  while (state.inFlight < state.maxInFlight && state.ready.length > 0) {
    const batch = state.ready.shift() as Pending[];
    state.inFlight++;
    state
      .send(batch.map((p) => p.event))
      .then(
        (results) => {
          batch.forEach((p, i) => {
            p.resolve(results[i] as BatchResult);
          });
        },
        (error: CebusError) => {
          for (const p of batch) p.reject(error);
        },
      )
      .finally(() => slotFreed(state));
  }
}

function slotFreed(state: BatcherState): void {
  state.inFlight--;
  if (state.ready.length === 0 && state.lingered) seal(state);
  else dispatch(state);
  if (isIdle(state) && state.idleWaiters.length > 0) {
    const waiters = state.idleWaiters;
    state.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}

/** Closes the open batch: it joins the ready ones. */
function seal(state: BatcherState): void {
  if (state.timer) cancel(state.timer);
  state.timer = undefined;
  state.lingered = false;
  if (state.open.length === 0) return;
  state.ready.push(state.open);
  state.open = [];
  state.openBytes = 0;
  dispatch(state);
}

/** While every slot is busy a lingered batch keeps growing instead of queueing behind the others as a small one. */
function onLinger(state: BatcherState): void {
  state.timer = undefined;
  if (state.inFlight < state.maxInFlight) seal(state);
  else state.lingered = true;
}
