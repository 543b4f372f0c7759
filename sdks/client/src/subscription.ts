import { type CebusError, createAsyncQueue, isPermanent } from "@cebus/core";
import type { Channel } from "./channels.js";
import { createMessage, type Message } from "./message.js";

export type SubscriptionStatus =
  | { type: "connected" }
  | { type: "disconnected"; error?: CebusError }
  | { type: "reconnecting"; delayMs: number; attempt: number }
  | { type: "error"; error: CebusError };

/** A live subscription: an async iterable of messages that reconnects by itself until closed. */
export interface Subscription extends AsyncIterable<Message>, AsyncDisposable {
  /** Status changes (connected, disconnected, reconnecting, error), like nats.js `status()`. */
  status(): AsyncIterable<SubscriptionStatus>;
  /** Stops receiving; the iteration ends. Unsettled messages are released by the broker for redelivery. */
  close(): Promise<void>;
}

export function createSubscription(open: () => Channel): Subscription {
  const messages = createAsyncQueue<Message>();
  const statuses = createAsyncQueue<SubscriptionStatus>();
  let channel: Channel | undefined;
  let closed = false;
  let wake: (() => void) | undefined;

  const loop = (async () => {
    let delayMs = 100;
    let attempt = 0;
    while (!closed) {
      channel = open();
      try {
        await channel.run(
          () => {
            delayMs = 100;
            attempt = 0;
            statuses.push({ type: "connected" });
          },
          (batch) => {
            const settler = (channel as Channel).settler;
            for (const delivery of batch) messages.push(createMessage(delivery, settler));
          },
        );
        if (closed) break;
        statuses.push({ type: "disconnected" }); // the broker ended the stream (e.g. it is shutting down)
      } catch (reason) {
        const error = reason as CebusError;
        if (closed) break;
        if (isPermanent(error)) {
          statuses.push({ type: "error", error });
          messages.end(error);
          break;
        }
        statuses.push({ type: "disconnected", error });
      }
      attempt++;
      statuses.push({ type: "reconnecting", delayMs, attempt });
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delayMs);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      delayMs = Math.min(delayMs * 2, 5000);
    }
    messages.end();
    statuses.end();
  })();

  const subscription: Subscription = {
    [Symbol.asyncIterator]: () => {
      const iterator = messages[Symbol.asyncIterator]();
      return {
        next: () => iterator.next(),
        // Leaving a `for await` loop (break, return, throw) closes the subscription.
        return: async () => {
          await subscription.close();
          return { value: undefined, done: true };
        },
      };
    },
    status: () => statuses,
    async close() {
      if (closed) return;
      closed = true;
      wake?.();
      await channel?.close();
      await loop;
    },
    [Symbol.asyncDispose]: () => subscription.close(),
  };
  return subscription;
}
