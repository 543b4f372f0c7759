import { create } from "@bufbuild/protobuf";
import { SubscriptionSchema, TopicSchema } from "@cebus/proto";
import { type NatsServer, startNats } from "@cebus/testing";
import { jetstream } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { connect } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openNatsStore } from "./connect.js";
import { migrateStateV0 } from "./migrate-state.js";
import { createNames } from "./names.js";

let server: NatsServer;
beforeAll(async () => {
  server = await startNats();
}, 120_000);
afterAll(async () => {
  await server?.[Symbol.asyncDispose]();
});

const T0 = 1_800_000_000_000;
const SUB = { subscription: "sub", topic: "t" };

/** Writes a meta bucket value as the store before the delivery rules (version 0) did, over its own connection. */
async function writeRaw(namespace: string, key: string, value: string): Promise<void> {
  const nc = await connect({ servers: server.url, noAsyncTraces: true });
  try {
    const kv = await new Kvm(jetstream(nc)).open(createNames(namespace).metaBucket);
    await kv.put(key, new TextEncoder().encode(value));
  } finally {
    await nc.close();
  }
}

async function readRaw(namespace: string, key: string): Promise<string> {
  const nc = await connect({ servers: server.url, noAsyncTraces: true });
  try {
    const kv = await new Kvm(jetstream(nc)).open(createNames(namespace).metaBucket);
    return new TextDecoder().decode((await kv.get(key))?.value);
  } finally {
    await nc.close();
  }
}

/**
 * Topic "t" (one partition, offsets 0..4, offsets 1 and 2 with key "k"), ordered subscription "sub", and its state
 * in the version 0 layout: cursor 4; 0 held by token "a"; 1 nacked (attempt 2, visible at T0 + 500); 2 parked
 * behind key "k"; 4 requeued although the cursor had not delivered it (version 0 allowed that).
 */
async function buildVersion0(namespace: string): Promise<void> {
  const store = await openNatsStore(server.url, { namespace });
  await store.createTopic(create(TopicSchema, { name: "t", partitions: 1 }));
  await store.createSubscription(create(SubscriptionSchema, { name: "sub", topic: "t", ordered: true }), [0]);
  const events = [0, 1, 2, 3, 4].map((offset) => ({
    partition: 0,
    source: "/s",
    id: `e${offset}`,
    key: offset === 1 || offset === 2 ? "k" : undefined,
    data: new Uint8Array([offset]),
  }));
  for (const [i, event] of events.entries()) {
    await store.append("t", [event], { now: T0 - 1000 + i, dedupeSince: T0 + 1 });
  }
  await store.close();
  const leases = [
    [0, 1, "a", T0 + 1000, 1, null],
    [1, 2, "b", T0 + 500, 0, "k"],
    [2, 0, "", 0, 0, "k"],
    [4, 0, "", T0, 0, null],
  ];
  await writeRaw(namespace, "state.sub.0", JSON.stringify({ c: 4, l: leases }));
}

describe("nats store: delivery states in the version 0 layout", () => {
  it("converts them on first touch: held leases settle, waiting ones are redelivered in order, nothing twice", async () => {
    const namespace = `m${Math.random().toString(36).slice(2, 10)}`;
    await buildVersion0(namespace);
    const store = await openNatsStore(server.url, { namespace });
    expect(await store.subscriptionStats("sub", T0)).toEqual({
      backlog: 3, // 1 nacked, 2 parked, 4 unread (its requeue past the cursor is dropped)
      inFlight: 1,
      oldestUnackedPublishTime: T0 - 1000,
    });
    const ack = { kind: "ack" as const, leases: [{ partition: 0, offset: 0, token: "a" }], now: T0 };
    expect(await store.settle(SUB, ack)).toEqual([true]);
    expect(await readRaw(namespace, "state.sub.0")).toMatch(/^\{"v":1,/); // saved in the new encoding
    const claim = {
      ...SUB,
      partition: 0,
      consumer: "c",
      max: 10,
      maxBytes: 1 << 20,
      leaseMs: 1000,
      autoAck: false,
      ordered: true,
    };
    const leases = await store.claim({ ...claim, now: T0 + 500, token: "c1" });
    // 1 again (attempt 3); 2 waits behind it (same key); 4 once, from the cursor
    expect(leases.map((l) => [l.event.offset, l.attempt])).toEqual([
      [1, 3],
      [4, 1],
    ]);
    const ackOne = {
      kind: "ack" as const,
      leases: [{ partition: 0, offset: 1, token: "c1" }],
      now: T0 + 600,
    };
    expect(await store.settle(SUB, ackOne)).toEqual([true]);
    const next = await store.claim({ ...claim, now: T0 + 700, token: "c2" });
    expect(next.map((l) => [l.event.offset, l.attempt])).toEqual([[2, 1]]); // the parked one, once its key is free
    await store.close();
  });

  it("keeps leases below the cursor only, one per offset, in offset order", () => {
    const state = migrateStateV0({
      c: 5,
      l: [
        [3, 1, "t", T0, 1, null],
        [1, 0, "", 0, 0, "k"],
        [5, 0, "", T0, 0, null],
        [7, 1, "t", T0, 1, null],
      ],
    });
    expect(state).toEqual({
      cursor: 5,
      leases: [
        { offset: 1, attempt: 0, token: "", deadline: 0, held: false, key: "k" },
        { offset: 3, attempt: 1, token: "t", deadline: T0, held: true, key: undefined },
      ],
    });
  });
});
