// Bench scenario 8, the Node SDK: a plain publish loop (each publish() not awaited on its own, so the client batches
// them), then a consume loop that acks every message. Prints one JSON line: {"publishSeconds", "consumeSeconds"}.
//   node loop.mjs URL TOPIC SUBSCRIPTION COUNT
import { createClient } from "@cebus/client";

const [url, topic, subscription, countText] = process.argv.slice(2);
const count = Number(countText);
const data = "x".repeat(256);
const client = createClient({ url });

let started = performance.now();
const published = [];
for (let n = 0; n < count; n++)
  published.push(client.publish(topic, { id: `n${n}`, type: "bench.event", source: "/bench", data }));
await Promise.all(published);
const publishSeconds = (performance.now() - started) / 1000;

started = performance.now();
const acks = [];
for await (const message of client.subscribe(subscription, { maxOutstanding: 2000 })) {
  acks.push(message.ack());
  if (acks.length === count) break;
}
await Promise.all(acks);
const consumeSeconds = (performance.now() - started) / 1000;
await client.close();
console.log(JSON.stringify({ publishSeconds, consumeSeconds }));
