import { isMessage } from "@bufbuild/protobuf";
import { type EventInput, toCloudEvent } from "@cebus/core";
import {
  AdminService,
  type CloudEvent,
  CloudEventSchema,
  PublisherService,
  SubscriberService,
} from "@cebus/proto";
import { type Client, createClient, type Transport } from "@connectrpc/connect";
import { type Admin, createAdmin } from "./admin.js";
import { retryWhileExhausted } from "./backoff.js";
import { toCebusError } from "./errors.js";
import { type BatchingOptions, createPublishBatcher, type PublishBatcher } from "./publish-batcher.js";
import { clientClosed, createStreamPublisher, type StreamPublisher } from "./publish-stream.js";
import { createReceiveChannel } from "./receive-channel.js";
import { createStreamChannel } from "./stream-channel.js";
import { createSubscription, type Subscription } from "./subscription.js";

/** Where one published event was stored. */
export interface PublishResult {
  id: string;
  partition: number;
  offset: number;
  /** The (source, id) was already in the topic inside its dedupe window: nothing new was stored. */
  duplicate: boolean;
}

export interface PublishOptions {
  /** Fail with deadline_exceeded after this long; a publish that timed out may still have been stored, so
   * retry it with the same ids: the broker's dedupe makes the retry safe. */
  timeoutMs?: number;
}

export interface SubscribeOptions {
  /** Most unacked messages held at once [100]; the broker never sends more. */
  maxOutstanding?: number;
  /** Most unacked bytes held at once [8 MiB]. */
  maxOutstandingBytes?: number;
  /** "stream": the bidirectional Consume stream (Node default); "receive": a server stream + unary settles (browsers). */
  mode?: "stream" | "receive";
  /**
   * Report order anomalies of first deliveries as status events (`{ type: "sequence", anomaly: "repeat" |
   * "out-of-order" }`): for ordered subscriptions, where a key's offsets only grow [off].
   */
  sequenceCheck?: boolean;
}

export interface CebusClient {
  /**
   * Publishes one event (returns its result) or a batch in one call (returns one result per event, in order).
   * Single events published close together travel in one batch (see `batching`), so a plain loop is fast.
   */
  publish(topic: string, event: EventInput | CloudEvent, options?: PublishOptions): Promise<PublishResult>;
  publish(
    topic: string,
    events: (EventInput | CloudEvent)[],
    options?: PublishOptions,
  ): Promise<PublishResult[]>;
  /** Consumes a subscription: iterate the messages and settle each one. */
  subscribe(subscription: string, options?: SubscribeOptions): Subscription;
  readonly admin: Admin;
  /** The generated Connect clients, for full control. */
  readonly raw: {
    publisher: Client<typeof PublisherService>;
    subscriber: Client<typeof SubscriberService>;
    admin: Client<typeof AdminService>;
  };
  /** Closes every open subscription, and the publish stream once the publishes in flight are answered. */
  close(): Promise<void>;
}

export interface ClientSetup {
  url: string;
  transport: Transport;
  defaultMode: "stream" | "receive";
  /** Gathering of single-event publishes into batches; false sends each on its own [on]. */
  batching?: BatchingOptions | false;
  /**
   * How long a publish may wait in all, retrying, while the broker refuses it for load (resource_exhausted with a
   * retry hint) before the refusal is the caller's [30 s]; 0 gives it at once. Calls with `timeoutMs` never retry.
   */
  backpressureRetryMs?: number;
}

type RawClients = CebusClient["raw"];

/** One client: its Connect clients, open subscriptions, the publish stream and the per-topic batchers. */
interface ClientState {
  readonly setup: ClientSetup;
  readonly url: string;
  readonly raw: RawClients;
  readonly open: Set<Subscription>;
  /** Where requests can stream (Node), publishes share one PublishStream; a call with a timeout stays unary. */
  readonly streamed: StreamPublisher | undefined;
  readonly batchers: Map<string, PublishBatcher>;
  closed: boolean;
}

/** The runtime-agnostic client over any Connect transport; `createClient` of the Node and browser entry points wraps it. */
export function createCebusClient(setup: ClientSetup): CebusClient {
  const { url, transport } = setup;
  const raw: RawClients = {
    publisher: createClient(PublisherService, transport),
    subscriber: createClient(SubscriberService, transport),
    admin: createClient(AdminService, transport),
  };
  const state: ClientState = {
    setup,
    url,
    raw,
    open: new Set(),
    streamed:
      setup.defaultMode === "stream"
        ? createStreamPublisher(raw.publisher, url, (t, e) => unary(state, t, e))
        : undefined,
    batchers: new Map(),
    closed: false,
  };
  return {
    publish: ((topic, input, options) => publish(state, topic, input, options)) as CebusClient["publish"],
    subscribe: (subscription, options = {}) => subscribe(state, subscription, options),
    admin: createAdmin(raw.admin, (run) => call(state, run)),
    raw,
    close: () => close(state),
  };
}

async function call<T>(state: ClientState, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    throw toCebusError(error, state.url);
  }
}

async function unary(state: ClientState, topic: string, events: CloudEvent[], timeoutMs?: number) {
  const { results } = await call(state, () => state.raw.publisher.publish({ topic, events }, { timeoutMs }));
  return results.map((r) => ({ partition: r.partition, offset: Number(r.offset), duplicate: r.duplicate }));
}

/** One attempt of a batch: on the stream, or unary with a timeout (or without a stream). */
function once(state: ClientState, topic: string, events: CloudEvent[], timeoutMs?: number) {
  if (state.closed) return Promise.reject(clientClosed());
  return state.streamed && timeoutMs === undefined
    ? state.streamed.send(topic, events)
    : unary(state, topic, events, timeoutMs);
}

/** A batch, published again while the broker refuses it for load (not for calls with a timeout). */
function send(state: ClientState, topic: string, events: CloudEvent[], timeoutMs?: number) {
  const budgetMs = state.setup.backpressureRetryMs ?? 30_000;
  return retryWhileExhausted(
    () => once(state, topic, events, timeoutMs),
    timeoutMs === undefined ? budgetMs : 0,
  );
}

function batcherOf(state: ClientState, topic: string): PublishBatcher {
  let batcher = state.batchers.get(topic);
  if (!batcher) {
    batcher = createPublishBatcher((events) => send(state, topic, events), state.setup.batching || {});
    state.batchers.set(topic, batcher);
  }
  return batcher;
}

async function publish(
  state: ClientState,
  topic: string,
  input: EventInput | CloudEvent | (EventInput | CloudEvent)[],
  options: PublishOptions = {},
) {
  if (state.closed) throw clientClosed();
  const many = Array.isArray(input);
  const events = (many ? input : [input]).map((e) =>
    isMessage(e, CloudEventSchema) ? e : toCloudEvent(e as EventInput),
  );
  if (!many && state.setup.batching !== false && options.timeoutMs === undefined) {
    const event = events[0] as CloudEvent;
    return { id: event.id, ...(await batcherOf(state, topic).publish(event)) };
  }
  const results = await send(state, topic, events, options.timeoutMs);
  const mapped = results.map((r, i) => ({ id: (events[i] as CloudEvent).id, ...r }));
  return many ? mapped : mapped[0];
}

function subscribe(state: ClientState, subscription: string, options: SubscribeOptions): Subscription {
  const { raw, url } = state;
  const flow = {
    $typeName: "cebus.v1.FlowControl" as const,
    maxOutstandingEvents: options.maxOutstanding ?? 100,
    maxOutstandingBytes: BigInt(options.maxOutstandingBytes ?? 8 * 1024 * 1024),
  };
  const mode = options.mode ?? state.setup.defaultMode;
  const sub = createSubscription(
    () =>
      mode === "stream"
        ? createStreamChannel(raw.subscriber, subscription, flow, url)
        : createReceiveChannel(raw.subscriber, subscription, flow, url),
    { sequenceCheck: options.sequenceCheck ?? false },
  );
  state.open.add(sub);
  const closeSub = sub.close;
  sub.close = async () => {
    state.open.delete(sub);
    await closeSub();
  };
  return sub;
}

/** Closes the subscriptions, sends what the batchers hold and waits for their answers, then ends the stream. */
async function close(state: ClientState): Promise<void> {
  await Promise.all([...state.open].map((s) => s.close()));
  await Promise.all([...state.batchers.values()].map((b) => b.flush()));
  state.closed = true;
  await state.streamed?.close();
}
