import type { CebusClient, Message } from "@cebus/client";

/** Consumes a subscription, acking everything; `onMessage` sees each message first. Resolves after close. */
export function consumeAll(
  client: CebusClient,
  subscription: string,
  onMessage: (message: Message) => void,
  onAcked: () => void,
  maxOutstanding = 2000,
): { close(): Promise<void> } {
  const sub = client.subscribe(subscription, { maxOutstanding });
  const loop = (async () => {
    for await (const message of sub) {
      onMessage(message);
      void message.ack().then(onAcked, () => {});
    }
  })();
  return {
    async close() {
      await sub.close();
      await loop;
    },
  };
}

/** Publishes `total` events in batches with `inFlight` calls outstanding; `topicOf` spreads them over topics. */
export async function publishAll(
  client: CebusClient,
  total: number,
  topicOf: (n: number) => string,
  event: (n: number) => { id: string; type: string; source: string; data: string; partitionkey?: string },
  onSent: (from: number, to: number, at: number) => void,
  batch = 500,
  inFlight = 8,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < total) {
      const from = next;
      next = Math.min(total, next + batch);
      const byTopic = new Map<string, ReturnType<typeof event>[]>();
      for (let n = from; n < next; n++) {
        const topic = topicOf(n);
        byTopic.set(topic, [...(byTopic.get(topic) ?? []), event(n)]);
      }
      const at = performance.now();
      onSent(from, next, at);
      await Promise.all([...byTopic].map(([topic, events]) => client.publish(topic, events)));
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
}
