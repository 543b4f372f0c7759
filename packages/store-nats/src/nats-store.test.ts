import { create } from "@bufbuild/protobuf";
import { SubscriptionSchema, TopicSchema } from "@cebus/proto";
import { describeStoreContract } from "@cebus/store/contract";
import { type NatsServer, startNats } from "@cebus/testing";
import { jetstream } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { connect } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openNatsStore } from "./connect.js";
import { encodeEvent } from "./event-codec.js";
import { createNames, deadLetterId } from "./names.js";

let server: NatsServer;
beforeAll(async () => {
  server = await startNats();
}, 120_000);
afterAll(async () => {
  await server?.[Symbol.asyncDispose]();
}, 60_000); // a server holding the streams of many model runs takes a while to stop on a loaded machine

let namespace = "";
describeStoreContract(
  "nats",
  {
    open: async () => {
      namespace = `t${Math.random().toString(36).slice(2, 10)}`;
      return openNatsStore(server.url, { namespace });
    },
    reopen: async () => openNatsStore(server.url, { namespace }),
  },
  { model: { numRuns: 200 } },
);

const now = 1_800_000_000_000;
const event = (id: string) => ({ partition: 0, source: "/s", id, key: undefined, data: Buffer.from(id) });

/** A store in a fresh namespace with topic "t", subscription "sub" and the dead-letter topic "dlq". */
async function withDeadLetterTopic() {
  const ns = `d${Math.random().toString(36).slice(2, 8)}`;
  const store = await openNatsStore(server.url, { namespace: ns });
  await store.createTopic(create(TopicSchema, { name: "t", partitions: 1 }));
  await store.createTopic(create(TopicSchema, { name: "dlq", partitions: 1 }));
  await store.createSubscription(create(SubscriptionSchema, { name: "sub", topic: "t" }), [0]);
  return { ns, store };
}

describe("nats store: term with dead letters", () => {
  it("a term repeated after its dead letters were appended (cut short before its save) stores each once", async () => {
    const { ns, store } = await withDeadLetterTopic();
    await store.append("t", [event("a"), event("b")], { now, dedupeSince: now + 1 });
    const request = {
      subscription: "sub",
      topic: "t",
      partition: 0,
      consumer: "c",
      max: 2,
      maxBytes: 1 << 20,
    };
    const [a, b] = await store.claim({ ...request, now, leaseMs: 1000, token: "tk", autoAck: false });
    // the first term got as far as appending a's dead letter, under the id of a's lease
    const nc = await connect({ servers: server.url, noAsyncTraces: true });
    const msgID = deadLetterId("sub", 0, a?.event.offset ?? -1, "tk");
    const subject = createNames(ns).subject("dlq", 0);
    await jetstream(nc).publish(subject, encodeEvent(now, undefined, Buffer.from("dead a")), { msgID });
    await nc.close();
    const leases = [a, b].map((l) => ({ partition: 0, offset: l?.event.offset ?? -1, token: "tk" }));
    const deadLetter = { topic: "dlq", events: [event("dead a"), event("dead b")] };
    const term = { kind: "term" as const, leases, now: now + 10, deadLetter };
    expect(await store.settle({ subscription: "sub", topic: "t" }, term)).toEqual([true, true]);
    const stored = await store.read("dlq", 0, 0, 10);
    expect(stored.map((e) => Buffer.from(e.data).toString())).toEqual(["dead a", "dead b"]);
    await store.close();
  });
});

describe("nats store: a term cut short by a crash", () => {
  it("the event's next term, under a new lease, appends its dead letter under the first id: stored once", async () => {
    const { ns, store } = await withDeadLetterTopic();
    await store.append("t", [event("a")], { now, dedupeSince: now + 1 });
    const request = {
      subscription: "sub",
      topic: "t",
      partition: 0,
      consumer: "c",
      max: 1,
      maxBytes: 1 << 20,
    };
    const [first] = await store.claim({ ...request, now, leaseMs: 1000, token: "tk1", autoAck: false });
    // The first term marked its id and appended the dead letter, then the process died before saving the state.
    const nc = await connect({ servers: server.url, noAsyncTraces: true });
    const names = createNames(ns);
    const msgID = deadLetterId("sub", 0, first?.event.offset ?? -1, "tk1");
    const meta = await new Kvm(nc).open(`cebus-${ns}`);
    await meta.put(names.deadLetterMarkKey("sub", 0, first?.event.offset ?? -1), msgID);
    await jetstream(nc).publish(names.subject("dlq", 0), encodeEvent(now, undefined, Buffer.from("dead a")), {
      msgID,
    });
    await nc.close();
    const later = now + 5000; // the lease expired: the event comes back under a new token
    const [again] = await store.claim({
      ...request,
      now: later,
      leaseMs: 1000,
      token: "tk2",
      autoAck: false,
    });
    expect(again?.attempt).toBe(2);
    const leases = [{ partition: 0, offset: again?.event.offset ?? -1, token: "tk2" }];
    const term = {
      kind: "term" as const,
      leases,
      now: later,
      deadLetter: { topic: "dlq", events: [event("dead a")] },
    };
    expect(await store.settle({ subscription: "sub", topic: "t" }, term)).toEqual([true]);
    expect((await store.read("dlq", 0, 0, 10)).map((e) => Buffer.from(e.data).toString())).toEqual([
      "dead a",
    ]);
    await store.close();
  });
});

describe("nats store across broker processes", () => {
  it("tells every store over the same NATS about new events and nacked events", async () => {
    const ns = `w${Math.random().toString(36).slice(2, 8)}`;
    const a = await openNatsStore(server.url, { namespace: ns });
    const b = await openNatsStore(server.url, { namespace: ns });
    const seen: unknown[] = [];
    b.watch?.((change) => seen.push(change));
    await new Promise((resolve) => setTimeout(resolve, 200));
    await a.createTopic(create(TopicSchema, { name: "w", partitions: 1 }));
    await a.createSubscription(create(SubscriptionSchema, { name: "w-sub", topic: "w" }), [0]);
    const now = Date.now();
    await a.append(
      "w",
      [{ partition: 0, source: "/s", id: "1", key: undefined, data: new Uint8Array([1]) }],
      {
        now,
        dedupeSince: now - 1000,
      },
    );
    const claim = { subscription: "w-sub", topic: "w", partition: 0, consumer: "c", max: 1 };
    const [lease] = await a.claim({
      ...claim,
      maxBytes: 1 << 20,
      now,
      leaseMs: 1000,
      token: "tk",
      autoAck: false,
    });
    // the other store sees the lease at once: a settle through it matches
    expect(
      await b.settle(
        { subscription: "w-sub", topic: "w" },
        {
          kind: "nack",
          leases: [{ partition: 0, offset: lease?.event.offset ?? -1, token: "tk" }],
          now,
          until: now + 500,
        },
      ),
    ).toEqual([true]);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(seen).toEqual([{ topic: "w" }, { topic: "w", subscription: "w-sub", at: now + 500 }]);
    await a.close();
    await b.close();
  });
});

describe("nats store connection", () => {
  it("fails with one line naming the URL and the cause when nothing listens there", async () => {
    await expect(openNatsStore("nats://127.0.0.1:1", { connectTimeoutMs: 1000 })).rejects.toThrow(
      /^cannot use NATS at nats:\/\/127\.0\.0\.1:1: .*is nats-server running there\?$/,
    );
  });

  it("refuses a server without JetStream, naming the cause", async () => {
    await using plain = await startNats({ jetstream: false });
    await expect(openNatsStore(plain.url)).rejects.toThrow(/JetStream is not enabled/);
  });

  it("says authentication failed, hiding the password, and refuses a user without JetStream rights", async () => {
    await using secured = await startNats({
      extraConfig: `authorization { users = [
        { user: "cebus", password: "right" },
        { user: "reader", password: "pw", permissions: { publish: { deny: ["$JS.API.>", "$KV.>"] } } }
      ] }`,
    });
    const base = secured.url.replace("nats://", "");
    await expect(openNatsStore(`nats://cebus:wrong@${base}`)).rejects.toThrow(
      /^cannot use NATS at nats:\/\/cebus:\*\*\*@127\.0\.0\.1:\d+: authentication failed/,
    );
    await expect(openNatsStore(`nats://reader:pw@${base}`)).rejects.toThrow(/permission denied/);
    const store = await openNatsStore(`nats://cebus:right@${base}`);
    expect(await store.listTopics()).toEqual([]);
    await store.close();
  });
});
