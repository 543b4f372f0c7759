import { create } from "@bufbuild/protobuf";
import type { Broker, Logger } from "@cebus/broker";
import { createAsyncQueue } from "@cebus/core";
import {
  type PublishFailure,
  PublishFailureSchema,
  type PublishStreamRequest,
  type PublishStreamResponse,
  PublishStreamResponseSchema,
} from "@cebus/proto";
import type { HandlerContext } from "@connectrpc/connect";
import { callerError } from "../errors.js";

/**
 * The PublishStream RPC: every request is one publish, started as soon as it is read (so the batches of one stream
 * share the store's group commits like concurrent unary calls do) and answered when it completes. A failed batch
 * is answered with its failure and the stream goes on; when the client half-closes, the stream ends after the
 * last answer. Nothing is answered before it is durable: the answer comes from the same broker.publish. At most
 * `maxInFlightPerStream` publishes of one stream run at once; past that the stream is not read, so HTTP/2 flow
 * control holds the client back.
 */
export const maxInFlightPerStream = 64;

export async function* publishStream(
  broker: Broker,
  requests: AsyncIterable<PublishStreamRequest>,
  context: HandlerContext,
  logger: Logger,
): AsyncGenerator<PublishStreamResponse> {
  const out = createAsyncQueue<PublishStreamResponse>();
  const state: StreamState = { broker, logger, out, inFlight: 0, readDone: false, slotFreed: undefined };
  void readRequests(state, requests, context);
  yield* out;
}

interface StreamState {
  readonly broker: Broker;
  readonly logger: Logger;
  readonly out: ReturnType<typeof createAsyncQueue<PublishStreamResponse>>;
  /** Publishes started and not yet answered. */
  inFlight: number;
  /** The client half-closed: the stream ends once inFlight is 0. */
  readDone: boolean;
  /** Resolves the reader's wait for a free slot. */
  slotFreed: (() => void) | undefined;
}

/** Starts a publish per request; a failure to read the requests (a malformed message, a reset) ends the stream. */
async function readRequests(
  state: StreamState,
  requests: AsyncIterable<PublishStreamRequest>,
  context: HandlerContext,
): Promise<void> {
  try {
    for await (const request of requests) {
      if (context.signal.aborted) return;
      startPublish(state, request);
      if (state.inFlight >= maxInFlightPerStream) {
        await new Promise<void>((resolve) => {
          state.slotFreed = resolve;
        });
      }
    }
    state.readDone = true;
    if (state.inFlight === 0) state.out.end();
  } catch (error) {
    state.out.end(error);
  }
}

function startPublish(state: StreamState, request: PublishStreamRequest): void {
  state.inFlight++;
  const requestId = request.requestId;
  state.broker.publish(request.topic, request.events).then(
    (results) => answer(state, create(PublishStreamResponseSchema, { requestId, results })),
    (error: unknown) =>
      answer(state, create(PublishStreamResponseSchema, { requestId, failure: failureOf(state, error) })),
  );
}

function answer(state: StreamState, response: PublishStreamResponse): void {
  state.inFlight--;
  state.out.push(response);
  const freed = state.slotFreed;
  state.slotFreed = undefined;
  freed?.();
  if (state.readDone && state.inFlight === 0) state.out.end();
}

/** A batch's error as the stream carries it (unexpected errors are logged and become `internal`, as for calls). */
function failureOf(state: { logger: Logger }, reason: unknown): PublishFailure {
  const error = callerError(reason, state.logger);
  return create(PublishFailureSchema, {
    code: error.code,
    message: error.message,
    field: error.field ?? "",
    retryAfterMs: error.retryAfterMs ?? 0,
  });
}
