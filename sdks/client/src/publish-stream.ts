import { create } from "@bufbuild/protobuf";
import { CebusError, createAsyncQueue, isErrorCode } from "@cebus/core";
import {
  type CloudEvent,
  type PublisherService,
  type PublishFailure,
  type PublishStreamRequest,
  PublishStreamRequestSchema,
  type PublishStreamResponse,
} from "@cebus/proto";
import type { Client } from "@connectrpc/connect";
import { toCebusError } from "./errors.js";
import type { BatchResult } from "./publish-batcher.js";

/**
 * Publishes over the PublishStream RPC (Node): one long-lived stream carries every batch, which saves the per-call
 * cost of a unary Publish (headers, a new HTTP/2 stream, the handler's setup) on both sides. The stream opens on
 * the first publish and again after it broke. A broker without PublishStream (older, or another implementation)
 * answers `unimplemented`; then `fallback` (the unary Publish) carries this batch and every later one.
 */
export interface StreamPublisher {
  send(topic: string, events: CloudEvent[]): Promise<BatchResult[]>;
  /** Half-closes the stream and waits for the answers in flight (up to 3 s, then cancels). */
  close(): Promise<void>;
}

type Send = (topic: string, events: CloudEvent[]) => Promise<BatchResult[]>;

interface Waiter {
  topic: string;
  events: CloudEvent[];
  resolve(results: BatchResult[]): void;
  reject(error: CebusError): void;
}

/** One open stream: its request queue, the batches awaiting answers, and how to cancel it. */
interface OpenStream {
  requests: ReturnType<typeof createAsyncQueue<PublishStreamRequest>>;
  pending: Map<bigint, Waiter>;
  abort: AbortController;
  /** Resolves when the stream has ended, however it ended. */
  finished: Promise<void>;
}

interface PublisherState {
  readonly publisher: Client<typeof PublisherService>;
  readonly url: string;
  readonly fallback: Send;
  stream: OpenStream | undefined;
  nextId: bigint;
  /** The broker has no PublishStream: every batch goes through `fallback`. */
  unary: boolean;
  /** close() was called: no stream opens again. */
  closed: boolean;
}

export function createStreamPublisher(
  publisher: Client<typeof PublisherService>,
  url: string,
  fallback: Send,
): StreamPublisher {
  const state: PublisherState = {
    publisher,
    url,
    fallback,
    stream: undefined,
    nextId: 1n,
    unary: false,
    closed: false,
  };
  return {
    send: (topic, events) => sendOnStream(state, topic, events),
    close: () => closeStream(state),
  };
}

function sendOnStream(state: PublisherState, topic: string, events: CloudEvent[]): Promise<BatchResult[]> {
  if (state.closed) return Promise.reject(clientClosed());
  if (state.unary) return state.fallback(topic, events);
  state.stream ??= openStream(state);
  const { stream } = state;
  const requestId = state.nextId++;
  return new Promise<BatchResult[]>((resolve, reject) => {
    stream.pending.set(requestId, { topic, events, resolve, reject });
    stream.requests.push(create(PublishStreamRequestSchema, { requestId, topic, events }));
  });
}

function openStream(state: PublisherState): OpenStream {
  const requests = createAsyncQueue<PublishStreamRequest>();
  const abort = new AbortController();
  const pending = new Map<bigint, Waiter>();
  const stream: OpenStream = { requests, pending, abort, finished: Promise.resolve() };
  stream.finished = readAnswers(state, stream);
  return stream;
}

/** Settles each batch with its answer; when the stream ends, whatever is still pending fails (or falls back). */
async function readAnswers(state: PublisherState, stream: OpenStream): Promise<void> {
  let failure: CebusError | undefined;
  try {
    const answers = state.publisher.publishStream(stream.requests, { signal: stream.abort.signal });
    for await (const answer of answers) settle(stream, answer);
  } catch (error) {
    failure = toCebusError(error, state.url);
  } finally {
    if (state.stream === stream) state.stream = undefined;
    stream.requests.end();
  }
  if (failure?.code === "unimplemented") {
    state.unary = true;
    for (const waiter of stream.pending.values()) {
      state.fallback(waiter.topic, waiter.events).then(waiter.resolve, waiter.reject);
    }
  } else {
    const error = brokenStream(failure);
    for (const waiter of stream.pending.values()) waiter.reject(error);
  }
  stream.pending.clear();
}

function settle(stream: OpenStream, answer: PublishStreamResponse): void {
  const waiter = stream.pending.get(answer.requestId);
  if (!waiter) return;
  stream.pending.delete(answer.requestId);
  if (answer.failure) waiter.reject(failureError(answer.failure));
  else {
    waiter.resolve(
      answer.results.map((r) => ({
        partition: r.partition,
        offset: Number(r.offset),
        duplicate: r.duplicate,
      })),
    );
  }
}

function failureError(failure: PublishFailure): CebusError {
  return new CebusError(isErrorCode(failure.code) ? failure.code : "unknown", failure.message, {
    field: failure.field || undefined,
    retryAfterMs: failure.retryAfterMs || undefined,
  });
}

/** The error of a batch whose answer was lost with the stream (the stream's own error first, when it had one). */
function brokenStream(cause: CebusError | undefined): CebusError {
  const advice =
    "this batch was not answered before the publish stream ended, so it may or may not be stored: publish it again with the same event ids (the broker's dedupe makes that safe)";
  if (!cause) return new CebusError("unavailable", `the broker ended the publish stream; ${advice}`);
  return new CebusError(cause.code, `${cause.message}; ${advice}`, {
    cause,
    retryAfterMs: cause.retryAfterMs,
  });
}

export const clientClosed = () =>
  new CebusError(
    "failed_precondition",
    "this client is closed, so nothing was published; create a new client",
  );

async function closeStream(state: PublisherState): Promise<void> {
  state.closed = true;
  const stream = state.stream;
  if (!stream) return;
  state.stream = undefined;
  stream.requests.end();
  const timer = setTimeout(() => stream.abort.abort(), 3000);
  await stream.finished;
  clearTimeout(timer);
}
