import type { Broker, SettleOutcome } from "@cebus/broker";

/**
 * Group commit for unary acks of one delivery each (what the browser, Python and Go clients send): while one store
 * call for a subscription is in flight, further acks wait and then go to the store together, so N concurrent acks
 * cost one transaction instead of N in a row. Each caller still gets its own delivery's outcome; calls of several
 * ids are not merged (they are all or nothing on their own).
 */
export interface AckCoalescer {
  ack(subscription: string, deliveryId: string): Promise<SettleOutcome>;
}

interface Waiter {
  deliveryId: string;
  resolve: (outcome: SettleOutcome) => void;
  reject: (reason: unknown) => void;
}

export function createAckCoalescer(broker: Broker, maxBatch = 500): AckCoalescer {
  const queues = new Map<string, { waiting: Waiter[]; busy: boolean }>();

  async function drain(subscription: string): Promise<void> {
    const queue = queues.get(subscription);
    if (!queue || queue.busy) return;
    queue.busy = true;
    try {
      while (queue.waiting.length > 0) {
        const batch = queue.waiting.splice(0, maxBatch);
        try {
          const outcomes = await broker.settle(
            subscription,
            "ack",
            batch.map((w) => w.deliveryId),
          );
          batch.forEach((w, i) => {
            w.resolve(outcomes[i] ?? { deliveryId: w.deliveryId, ok: false });
          });
        } catch (error) {
          for (const w of batch) w.reject(error);
        }
      }
    } finally {
      queue.busy = false;
      queues.delete(subscription);
    }
  }

  return {
    ack(subscription, deliveryId) {
      return new Promise<SettleOutcome>((resolve, reject) => {
        let queue = queues.get(subscription);
        if (!queue) {
          queue = { waiting: [], busy: false };
          queues.set(subscription, queue);
        }
        queue.waiting.push({ deliveryId, resolve, reject });
        if (!queue.busy) queueMicrotask(() => void drain(subscription));
      });
    },
  };
}
