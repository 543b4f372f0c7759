// The client-under-test logic shared by the Node adapter and the browser page: it carries out the runner's
// commands through @cebus/client's public API and reports deliveries. Transport-free: the caller reads commands
// and writes events (stdin/stdout for Node, the page bridge for the browser).
import { create } from "@bufbuild/protobuf";
import {
  type CebusClient,
  createMemoryProcessedEvents,
  idempotent,
  type Message,
  type Subscription,
} from "@cebus/client";
import { CebusError, durationMs, msToTimestamp } from "@cebus/core";
import {
  type ClientCommand,
  type ClientEvent,
  type CommandResult,
  CommandResultSchema,
} from "@cebus/proto/conformance";

export interface Driver {
  /** Runs one command; the result carries the command id, and an error code and message when it failed. */
  run(command: ClientCommand): Promise<CommandResult>;
  /** Closes every subscription and the client. */
  close(): Promise<void>;
}

export interface DriverOptions {
  createClient(url: string): CebusClient;
  emit(event: ClientEvent["event"]): void;
}

/**
 * Resolves once the subscription's stream is open (or failed, or 5 s passed): the runner's next step (a publish)
 * then meets a live consumer, so the first deliveries are not slowed by the stream's setup (for a page: a CORS
 * preflight and a new connection) while their leases already run.
 */
async function live(subscription: Subscription): Promise<void> {
  const first = subscription.status()[Symbol.asyncIterator]().next();
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([first, new Promise((resolve) => (timer = setTimeout(resolve, 5000)))]);
  clearTimeout(timer);
}

export function createDriver(options: DriverOptions): Driver {
  const { emit } = options;
  let client: CebusClient | undefined;
  const subscriptions = new Map<string, Subscription>();
  const messages = new Map<string, Message>();
  // Idempotent subscribers share what this client has processed (the helper's in-process store).
  const processed = createMemoryProcessedEvents();

  const requireClient = (): CebusClient => {
    if (!client) throw new CebusError("failed_precondition", "send a connect command first");
    return client;
  };

  function report(subscriber: string, message: Message, redundant: boolean): void {
    emit({
      case: "delivery",
      value: {
        $typeName: "cebus.conformance.v1.DeliveryEvent",
        subscriber,
        deliveryId: message.deliveryId,
        attempt: message.attempt,
        partition: message.partition,
        offset: BigInt(message.offset),
        event: message.event,
        redundant,
        leaseDeadline: message.leaseDeadline ? msToTimestamp(message.leaseDeadline.getTime()) : undefined,
      },
    });
  }

  async function consume(subscriber: string, subscription: Subscription, once: boolean): Promise<void> {
    // The runner settles every delivery; here the helper only decides whether the event is processed again.
    const handle = idempotent(processed, async (message) => report(subscriber, message, false), {
      ack: false,
    });
    try {
      for await (const message of subscription) {
        messages.set(`${subscriber}/${message.deliveryId}`, message);
        if (!once) report(subscriber, message, false);
        else if ((await handle(message)).duplicate) report(subscriber, message, true);
      }
    } catch (error) {
      emit({
        case: "notice",
        value: `subscriber ${subscriber} ended: ${error instanceof Error ? error.message : String(error)}`,
      });
    }
  }

  async function execute(command: ClientCommand): Promise<Pick<Partial<CommandResult>, "published">> {
    const c = command.command;
    switch (c.case) {
      case "connect":
        await client?.close();
        subscriptions.clear();
        client = options.createClient(c.value.url);
        return {};
      case "publish": {
        const results = await requireClient().publish(c.value.topic, c.value.events, {
          timeoutMs: c.value.timeoutMs || undefined,
        });
        return {
          published: results.map((r) => ({
            $typeName: "cebus.conformance.v1.PublishOutcome" as const,
            partition: r.partition,
            offset: BigInt(r.offset),
            duplicate: r.duplicate,
          })),
        };
      }
      case "subscribe": {
        const subscription = requireClient().subscribe(c.value.subscription, {
          maxOutstanding: c.value.maxOutstanding || undefined,
        });
        subscriptions.set(c.value.subscriber, subscription);
        void consume(c.value.subscriber, subscription, c.value.idempotent);
        await live(subscription);
        return {};
      }
      case "settle": {
        const key = `${c.value.subscriber}/${c.value.deliveryId}`;
        const message = messages.get(key);
        if (!message) throw new CebusError("not_found", `no delivery ${key} was received`);
        // kept after a settle: a second settle of the message must be refused by the SDK itself (settle once)
        const action = c.value.action;
        if (action.case === "ack") await message.ack();
        else if (action.case === "nack")
          await message.nack(action.value.delay ? durationMs(action.value.delay, 0) : undefined);
        else if (action.case === "extend")
          await message.extend(action.value.extension ? durationMs(action.value.extension, 0) : undefined);
        else if (action.case === "term") await message.term(action.value.reason);
        return {};
      }
      case "unsubscribe": {
        await subscriptions.get(c.value.subscriber)?.close();
        subscriptions.delete(c.value.subscriber);
        return {};
      }
      default:
        throw new CebusError("unimplemented", `unknown command ${c.case}`);
    }
  }

  return {
    run: (command) =>
      execute(command).then(
        (result) => create(CommandResultSchema, { published: result.published ?? [], id: command.id }),
        (error: unknown) => {
          const e = CebusError.from(error, "unknown");
          return create(CommandResultSchema, { id: command.id, errorCode: e.code, errorMessage: e.message });
        },
      ),
    close: async () => {
      await client?.close();
    },
  };
}
