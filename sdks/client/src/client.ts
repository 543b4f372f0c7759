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
import { type BatchingOptions, createPublishBatcher } from "./publish-batcher.js";
import { createStreamPublisher } from "./publish-stream.js";
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

/** The runtime-agnostic client over any Connect transport; `createClient` of the Node and browser entry points wraps it. */
export function createCebusClient(setup: ClientSetup): CebusClient {
  const { url, transport } = setup;
  const raw = {
    publisher: createClient(PublisherService, transport),
    subscriber: createClient(SubscriberService, transport),
    admin: createClient(AdminService, transport),
  };
  const call = async <T>(run: () => Promise<T>): Promise<T> => {
    try {
      return await run();
    } catch (error) {
      throw toCebusError(error, url);
    }
  };
  const open = new Set<Subscription>();

  const unary = async (topic: string, events: CloudEvent[], timeoutMs?: number) => {
    const { results } = await call(() => raw.publisher.publish({ topic, events }, { timeoutMs }));
    return results.map((r) => ({ partition: r.partition, offset: Number(r.offset), duplicate: r.duplicate }));
  };
  // Where requests can stream (Node), publishes share one PublishStream; a call with a timeout stays unary.
  const streamed =
    setup.defaultMode === "stream"
      ? createStreamPublisher(raw.publisher, url, (t, e) => unary(t, e))
      : undefined;
  const once = (topic: string, events: CloudEvent[], timeoutMs?: number) =>
    streamed && timeoutMs === undefined ? streamed.send(topic, events) : unary(topic, events, timeoutMs);
  const budgetMs = setup.backpressureRetryMs ?? 30_000;
  const send = (topic: string, events: CloudEvent[], timeoutMs?: number) =>
    retryWhileExhausted(() => once(topic, events, timeoutMs), timeoutMs === undefined ? budgetMs : 0);
  const batchers = new Map<string, ReturnType<typeof createPublishBatcher>>();
  const batcherOf = (topic: string) => {
    let batcher = batchers.get(topic);
    if (!batcher) {
      batcher = createPublishBatcher((events) => send(topic, events), setup.batching || {});
      batchers.set(topic, batcher);
    }
    return batcher;
  };

  async function publish(
    topic: string,
    input: EventInput | CloudEvent | (EventInput | CloudEvent)[],
    options: PublishOptions = {},
  ) {
    const many = Array.isArray(input);
    const events = (many ? input : [input]).map((e) =>
      isMessage(e, CloudEventSchema) ? e : toCloudEvent(e as EventInput),
    );
    if (!many && setup.batching !== false && options.timeoutMs === undefined) {
      const event = events[0] as CloudEvent;
      return { id: event.id, ...(await batcherOf(topic).publish(event)) };
    }
    const results = await send(topic, events, options.timeoutMs);
    const mapped = results.map((r, i) => ({ id: (events[i] as CloudEvent).id, ...r }));
    return many ? mapped : mapped[0];
  }

  return {
    publish: publish as CebusClient["publish"],
    subscribe(subscription, options = {}) {
      const flow = {
        $typeName: "cebus.v1.FlowControl" as const,
        maxOutstandingEvents: options.maxOutstanding ?? 100,
        maxOutstandingBytes: BigInt(options.maxOutstandingBytes ?? 8 * 1024 * 1024),
      };
      const mode = options.mode ?? setup.defaultMode;
      const sub = createSubscription(
        () =>
          mode === "stream"
            ? createStreamChannel(raw.subscriber, subscription, flow, url)
            : createReceiveChannel(raw.subscriber, subscription, flow, url),
        { sequenceCheck: options.sequenceCheck ?? false },
      );
      open.add(sub);
      const close = sub.close;
      sub.close = async () => {
        open.delete(sub);
        await close();
      };
      return sub;
    },
    admin: createAdmin(raw.admin, call),
    raw,
    async close() {
      await Promise.all([...open].map((s) => s.close()));
      await streamed?.close();
    },
  };
}
