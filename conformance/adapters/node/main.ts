#!/usr/bin/env node
// The Node client under test: drives @cebus/client through its public API only, speaking the size-delimited
// client protocol (cebus.conformance.v1) on stdin/stdout.
import { create } from "@bufbuild/protobuf";
import {
  type CebusClient,
  createClient,
  createMemoryProcessedEvents,
  idempotent,
  type Message,
  type Subscription,
} from "@cebus/client";
import { CebusError, durationMs } from "@cebus/core";
import {
  type ClientCommand,
  ClientCommandSchema,
  type ClientEvent,
  ClientEventSchema,
  type CommandResult,
  CommandResultSchema,
} from "@cebus/proto/conformance";
import { readFrames, writeFrame } from "../../src/framing.js";

let client: CebusClient | undefined;
const subscriptions = new Map<string, Subscription>();
const messages = new Map<string, Message>();

function emit(event: ClientEvent["event"]): void {
  writeFrame(process.stdout, ClientEventSchema, create(ClientEventSchema, { event }));
}

function requireClient(): CebusClient {
  if (!client) throw new CebusError("failed_precondition", "send a connect command first");
  return client;
}

// Idempotent subscribers share what this client process has processed (the helper's in-process store).
const processed = createMemoryProcessedEvents();

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
    },
  });
}

async function consume(subscriber: string, subscription: Subscription, once: boolean): Promise<void> {
  // The runner settles every delivery; here the helper only decides whether the event is processed again.
  const handle = idempotent(processed, async (message) => report(subscriber, message, false), { ack: false });
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

type ResultFields = Pick<Partial<CommandResult>, "published">;

async function run(command: ClientCommand): Promise<ResultFields> {
  const c = command.command;
  switch (c.case) {
    case "connect":
      await client?.close();
      subscriptions.clear();
      client = createClient({ url: c.value.url });
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
      return {};
    }
    case "settle": {
      const key = `${c.value.subscriber}/${c.value.deliveryId}`;
      const message = messages.get(key);
      if (!message) throw new CebusError("not_found", `no delivery ${key} was received`);
      const action = c.value.action;
      if (action.case !== "extend") messages.delete(key);
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

for await (const command of readFrames(process.stdin, ClientCommandSchema)) {
  // Commands run concurrently (a slow settle must not hold up a publish); results carry the command id.
  void run(command).then(
    (result) =>
      emit({
        case: "result",
        value: create(CommandResultSchema, { published: result.published ?? [], id: command.id }),
      }),
    (error: unknown) => {
      const e = CebusError.from(error, "unknown");
      emit({
        case: "result",
        value: create(CommandResultSchema, { id: command.id, errorCode: e.code, errorMessage: e.message }),
      });
    },
  );
}
await client?.close();
