import type { Message } from "./message.js";

/**
 * Where an application records the events it has processed. Exactly-once processing needs the record and the
 * handler's effect to commit together: implement `runOnce` with one transaction in your own database, e.g.
 *
 *   BEGIN; INSERT INTO processed(key) VALUES ($1) ON CONFLICT DO NOTHING  -- 0 rows: already done, ROLLBACK
 *   ...the handler's writes...; COMMIT
 */
export interface ProcessedEvents {
  /** Runs `effect` and records `key` atomically; resolves false without running it when `key` is recorded. */
  runOnce(key: string, effect: () => Promise<void>): Promise<boolean>;
}

export interface IdempotentOptions {
  /** Ack after the handler ran or the event was recognised as processed [true]. */
  ack?: boolean;
}

export interface IdempotentOutcome {
  /** True when the event had been processed before (a redelivery or a republish): the handler did not run. */
  duplicate: boolean;
}

/** The key an event is known by: CloudEvents make (source, id) unique, so that is the dedupe key. */
export const processedKey = (message: Pick<Message, "source" | "id">): string =>
  `${message.source.length}:${message.source}${message.id}`;

/**
 * Wraps a handler so that each event (by source and id) is processed at most once, however often the broker
 * delivers it. With at-least-once delivery this gives exactly-once processing. A handler that throws leaves
 * nothing recorded and the message unsettled, so it is redelivered after its lease (or nack it yourself).
 */
export function idempotent(
  processed: ProcessedEvents,
  handler: (message: Message) => Promise<void>,
  options: IdempotentOptions = {},
): (message: Message) => Promise<IdempotentOutcome> {
  const ack = options.ack ?? true;
  return async (message) => {
    const ran = await processed.runOnce(processedKey(message), () => handler(message));
    if (ack) await message.ack();
    return { duplicate: !ran };
  };
}

/**
 * An in-process `ProcessedEvents` for tests and for handlers whose effects live in the same process. It forgets
 * everything on restart; use your database in production. Concurrent deliveries of one key run the effect once.
 */
export function createMemoryProcessedEvents(): ProcessedEvents & { readonly size: number } {
  const done = new Set<string>();
  const running = new Map<string, Promise<boolean>>();
  return {
    get size() {
      return done.size;
    },
    async runOnce(key, effect) {
      if (done.has(key)) return false;
      const pending = running.get(key);
      if (pending) return (await pending.catch(() => false)) ? false : this.runOnce(key, effect);
      const run = (async () => {
        await effect();
        done.add(key);
        return true;
      })();
      running.set(key, run);
      try {
        return await run;
      } finally {
        running.delete(key);
      }
    },
  };
}
