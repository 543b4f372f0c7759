#!/usr/bin/env node
// The sqlite store with thousands of leases in flight in one partition, in process (no broker): append N events,
// claim them all (one claim of `max` at a time), then settle them one lease per call in a shuffled order
// (out-of-order acks split the encoded lease ranges: the worst case for a one-row delivery state), with a claim
// (finding nothing new) every 100 leases settled. Usage: node inflight-sqlite.mjs REPO_ROOT [N] [ack|nack] [BATCH]
// (BATCH leases per settle call, default 1; the broker settles a stream's acks in batches).
// REPO_ROOT picks the build measured, so the old and the new tree run the same script.
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";

const [root, n = "10000", kind = "ack", b = "1"] = process.argv.slice(2);
const total = Number(n);
const batch = Number(b);
const require = createRequire(join(root, "tools/bench/package.json"));
const { createSqliteStore } = await import(require.resolve("@cebus/store-sqlite"));
const { create } = await import(require.resolve("@bufbuild/protobuf"));
const { SubscriptionSchema, TopicSchema } = await import(require.resolve("@cebus/proto"));

const dir = mkdtempSync(join(tmpdir(), "cebus-inflight-"));
const store = createSqliteStore({ path: join(dir, "inflight.db") });
try {
  await store.createTopic(create(TopicSchema, { name: "t", partitions: 1 }));
  await store.createSubscription(create(SubscriptionSchema, { name: "s", topic: "t" }), [0]);
  const now = Date.now();
  for (let from = 0; from < total; from += 500) {
    const events = [];
    for (let i = from; i < Math.min(total, from + 500); i++)
      events.push({ partition: 0, source: "/b", id: String(i), key: undefined, data: new Uint8Array(256) });
    await store.append("t", events, { now, dedupeSince: now - 120_000 });
  }
  const claim = (max) =>
    store.claim({
      ...{ subscription: "s", topic: "t", partition: 0, consumer: "c", max, maxBytes: 64 << 20, now },
      ...{ leaseMs: 600_000, token: "k", autoAck: false },
    });
  let t0 = performance.now();
  const leases = [];
  while (leases.length < total) leases.push(...(await claim(1000)));
  const claimMs = performance.now() - t0;
  let seed = 42; // a fixed shuffle, the same on both trees
  const random = () => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed / 2 ** 32;
  };
  for (let i = leases.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [leases[i], leases[j]] = [leases[j], leases[i]];
  }
  t0 = performance.now();
  let claims = 0;
  for (let i = 0; i < leases.length; i += batch) {
    const refs = leases
      .slice(i, i + batch)
      .map((lease) => ({ partition: 0, offset: lease.event.offset, token: lease.token }));
    await store.settle("s", { kind, leases: refs, now, until: now + 600_000 });
    if (Math.floor((i + batch) / 100) > Math.floor(i / 100)) claims += (await claim(100)).length;
  }
  const settleMs = performance.now() - t0;
  const per = (ms, count) => `${((ms * 1000) / count).toFixed(0)} µs each`;
  console.log(
    `${total} in flight: claim ${claimMs.toFixed(0)} ms (${per(claimMs, total / 1000)} per 1000), ` +
      `${total} ${kind}s in calls of ${batch} + ${total / 100} claims ${settleMs.toFixed(0)} ms ` +
      `(${per(settleMs, total / batch)} per call, ` +
      `${Math.round(total / (settleMs / 1000))}/s), claims returned ${claims}`,
  );
} finally {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
}
