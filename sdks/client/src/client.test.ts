import { execFile } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { type BrokerProcess, startBroker } from "@cebus/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CebusError, createClient, type Message, type SubscriptionStatus } from "./index.node.js";

const run = promisify(execFile);
const packageDir = fileURLToPath(new URL("..", import.meta.url));

/** The `index`-th ```ts block of a README (the first by default). */
function snippet(readme: string, index = 0): string {
  const blocks = [...readFileSync(readme, "utf8").matchAll(/```ts\n([\s\S]*?)```/g)];
  const code = blocks[index]?.[1];
  if (!code) throw new Error(`${readme} has no ts snippet number ${index + 1}`);
  return code;
}

/** Runs a README snippet against the test broker as an ES module in the package directory; its stdout. */
async function runSnippet(code: string): Promise<string> {
  const file = `${packageDir}/.readme-example-${process.pid}.mjs`;
  writeFileSync(file, code.replace("http://127.0.0.1:8080", broker.url));
  try {
    const { stdout } = await run(process.execPath, [file], { timeout: 20_000 });
    return stdout.trim();
  } finally {
    rmSync(file, { force: true });
  }
}

async function take(iterator: AsyncIterator<Message>, count: number): Promise<Message[]> {
  const got: Message[] = [];
  while (got.length < count) {
    const next = await iterator.next();
    if (next.done) break;
    got.push(next.value);
  }
  return got;
}

let broker: BrokerProcess;
beforeAll(async () => {
  broker = await startBroker({ store: "sqlite" });
});
afterAll(async () => {
  await broker[Symbol.asyncDispose]();
});

describe("@cebus/client against a real broker", () => {
  it("the README example runs as written, and the repository README shows the same code", async () => {
    const code = snippet(`${packageDir}/README.md`);
    expect(snippet(`${packageDir}/../../README.md`)).toBe(code);
    expect(code.trim().split("\n").length).toBeLessThanOrEqual(10);
    expect(await runSnippet(code)).toBe("{ id: 42 }");
  });

  it("the README's error example prints the code and the field at fault", async () => {
    const code = snippet(`${packageDir}/README.md`, 1);
    expect(code).toContain("error.field");
    expect(await runSnippet(code)).toBe("invalid_argument topic.name");
  });

  it("publishes single events and batches, and a repeated (source, id) comes back as a duplicate", async () => {
    const cebus = createClient({ url: broker.url });
    await cebus.admin.createTopic("pub", { partitions: 2 });
    const one = await cebus.publish("pub", { id: "a", type: "t", source: "/s", data: "hello" });
    expect(one).toMatchObject({ id: "a", duplicate: false });
    const many = await cebus.publish("pub", [
      { id: "b", type: "t", source: "/s", partitionkey: "k" },
      { id: "a", type: "t", source: "/s" },
    ]);
    expect(many.map((r) => r.duplicate)).toEqual([false, true]);
    expect(many[1]).toMatchObject({ partition: one.partition, offset: one.offset });
    await cebus.close();
  });

  it("consumes with confirmed acks; a nack redelivers with attempt 2; an acked event never returns", async () => {
    const cebus = createClient({ url: broker.url });
    await cebus.admin.createTopic("work");
    await cebus.admin.createSubscription("workers", {
      topic: "work",
      startAt: "earliest",
      ackDeadlineMs: 60_000,
    });
    await cebus.publish("work", [
      { id: "1", type: "t", source: "/s", data: { n: 1 } },
      { id: "2", type: "t", source: "/s", data: { n: 2 } },
    ]);
    const subscription = cebus.subscribe("workers");
    const iterator = subscription[Symbol.asyncIterator]();
    const [first, second] = await take(iterator, 2);
    expect(first?.data()).toEqual({ n: 1 });
    await first?.ack();
    await second?.nack(50);
    const [again] = await take(iterator, 1);
    expect([again?.id, again?.attempt]).toEqual(["2", 2]);
    await again?.ack();
    await expect(again?.ack()).rejects.toThrow(/already acked/);
    const stats = await cebus.admin.subscriptionStats("workers");
    expect([stats.backlog, stats.inFlight]).toEqual([0n, 0n]);
    await subscription.close();
    await cebus.close();
  });

  it("receive mode (the browser path) works from Node too, with unary settles", async () => {
    const cebus = createClient({ url: broker.url });
    await cebus.admin.createTopic("recv");
    await cebus.admin.createSubscription("recv-sub", { topic: "recv", startAt: "earliest" });
    await cebus.publish("recv", { id: "r1", type: "t", source: "/s" });
    const subscription = cebus.subscribe("recv-sub", { mode: "receive" });
    const iterator = subscription[Symbol.asyncIterator]();
    const [message] = await take(iterator, 1);
    await message?.extend(10_000);
    await message?.ack();
    expect((await cebus.admin.subscriptionStats("recv-sub")).inFlight).toBe(0n);
    await subscription.close();
    await cebus.close();
  });

  it("a message carries its lease deadline (the ack deadline after the broker leased it) in both modes, none at most once", async () => {
    const cebus = createClient({ url: broker.url });
    await cebus.admin.createTopic("leases");
    await cebus.admin.createSubscription("leases-consume", {
      topic: "leases",
      startAt: "earliest",
      ackDeadlineMs: 60_000,
    });
    await cebus.admin.createSubscription("leases-receive", {
      topic: "leases",
      startAt: "earliest",
      ackDeadlineMs: 45_000,
    });
    await cebus.admin.createSubscription("leases-once", {
      topic: "leases",
      startAt: "earliest",
      deliveryMode: "at-most-once",
    });
    await cebus.publish("leases", { id: "l1", type: "t", source: "/s" });
    const cases = [
      { name: "leases-consume", mode: "stream", ackDeadlineMs: 60_000 },
      { name: "leases-receive", mode: "receive", ackDeadlineMs: 45_000 },
    ] as const;
    for (const { name, mode, ackDeadlineMs } of cases) {
      const subscription = cebus.subscribe(name, { mode });
      const [message] = await take(subscription[Symbol.asyncIterator](), 1);
      const leasedAt = (message?.leaseDeadline?.getTime() ?? Number.NaN) - ackDeadlineMs;
      // the broker leased it after storing it and before this process received it (one machine, one clock)
      expect(leasedAt).toBeGreaterThanOrEqual(message?.publishTime.getTime() ?? Number.NaN);
      expect(leasedAt).toBeLessThanOrEqual(Date.now());
      await message?.ack();
      await subscription.close();
    }
    const once = cebus.subscribe("leases-once");
    const [unleased] = await take(once[Symbol.asyncIterator](), 1);
    expect([unleased?.id, unleased?.leaseDeadline]).toEqual(["l1", undefined]);
    await once.close();
    await cebus.close();
  });

  it("acks made just before close are sent first and confirmed; later ones fail unsent; the rest is released at once", async () => {
    const cebus = createClient({ url: broker.url });
    await cebus.admin.createTopic("closing");
    await cebus.admin.createSubscription("closing-sub", { topic: "closing", startAt: "earliest" });
    await cebus.publish(
      "closing",
      Array.from({ length: 6 }, (_, i) => ({ id: `c${i}`, type: "t", source: "/s" })),
    );
    const subscription = cebus.subscribe("closing-sub", { maxOutstanding: 6 });
    const got = await take(subscription[Symbol.asyncIterator](), 3);
    const acks = got.slice(0, 2).map((m) => m.ack()); // not awaited before close
    await subscription.close();
    await Promise.all(acks);
    // A settle after the close was never sent: failed_precondition, and the event is back in the backlog.
    await expect(got[2]?.ack()).rejects.toMatchObject({ code: "failed_precondition" });
    const stats = await cebus.admin.subscriptionStats("closing-sub");
    expect([stats.backlog, stats.inFlight]).toEqual([4n, 0n]);
    await cebus.close();
  });

  it("sequence checks: an ordered subscription's first deliveries pass; after a seek back they are reported", async () => {
    const cebus = createClient({ url: broker.url });
    await cebus.admin.createTopic("seq", { partitions: 2 });
    await cebus.admin.createSubscription("seq-sub", { topic: "seq", ordered: true, startAt: "earliest" });
    const events = Array.from({ length: 12 }, (_, i) => ({
      id: `q${i}`,
      type: "t",
      source: "/s",
      partitionkey: `key-${i % 3}`,
    }));
    await cebus.publish("seq", events);
    const subscription = cebus.subscribe("seq-sub", { sequenceCheck: true });
    const reports: SubscriptionStatus[] = [];
    const watching = (async () => {
      for await (const status of subscription.status()) if (status.type === "sequence") reports.push(status);
    })();
    const iterator = subscription[Symbol.asyncIterator]();
    const seen: Message[] = [];
    while (seen.length < 12) {
      const [m] = await take(iterator, 1);
      seen.push(m as Message);
      await m?.ack();
    }
    expect(
      seen.every((m) => m.sequence === String(m.offset).padStart(20, "0") && m.key?.startsWith("key-")),
    ).toBe(true);
    expect(reports).toEqual([]);
    await cebus.admin.seek("seq-sub", "earliest");
    const again = await take(iterator, 1);
    await again[0]?.ack();
    await subscription.close();
    await watching;
    // The seek hands each key's first event out again as a first delivery: out of order against what came before.
    expect(reports.length).toBeGreaterThan(0);
    expect(reports).toContainEqual(
      expect.objectContaining({ anomaly: "out-of-order", key: again[0]?.key, offset: again[0]?.offset }),
    );
    expect(reports.every((r) => r.type === "sequence" && r.anomaly === "out-of-order")).toBe(true);
    await cebus.close();
  });

  it("close sends the publishes it was given and waits for their answers; a publish after close fails", async () => {
    const cebus = createClient({ url: broker.url, batching: { maxInFlight: 1, maxEvents: 10 } });
    await cebus.admin.createTopic("flushed");
    const results = Array.from({ length: 95 }, (_, i) =>
      cebus.publish("flushed", { id: `f${i}`, type: "t", source: "/s" }),
    );
    await cebus.close(); // most of them still queued behind the one batch in flight
    expect((await Promise.all(results)).map((r) => r.id)).toHaveLength(95);
    await expect(cebus.publish("flushed", { type: "t", source: "/s" })).rejects.toMatchObject({
      code: "failed_precondition",
    });
    const other = createClient({ url: broker.url });
    expect((await other.admin.topicStats("flushed")).eventCount).toBe(95n);
    await other.close();
  });

  it("never holds more unacked messages than maxOutstanding", async () => {
    const cebus = createClient({ url: broker.url });
    await cebus.admin.createTopic("flow");
    await cebus.admin.createSubscription("flow-sub", { topic: "flow", startAt: "earliest" });
    await cebus.publish(
      "flow",
      Array.from({ length: 30 }, (_, i) => ({ id: `f${i}`, type: "t", source: "/s" })),
    );
    const subscription = cebus.subscribe("flow-sub", { maxOutstanding: 4 });
    const iterator = subscription[Symbol.asyncIterator]();
    const held = await take(iterator, 4);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((await cebus.admin.subscriptionStats("flow-sub")).inFlight).toBe(4n);
    await Promise.all(held.map((m) => m.ack()));
    const next = await take(iterator, 4);
    expect(next.map((m) => m.id)).toEqual(["f4", "f5", "f6", "f7"]);
    await subscription.close();
    await cebus.close();
  });

  it("turns broker errors into CebusErrors with the code and a message that says what to do", async () => {
    const cebus = createClient({ url: broker.url });
    const unknown = await cebus
      .publish("missing-topic", { type: "t", source: "/s" })
      .catch((e: unknown) => e);
    expect(unknown).toBeInstanceOf(CebusError);
    expect((unknown as CebusError).code).toBe("not_found");
    expect((unknown as CebusError).message).toContain("create it first (AdminService.CreateTopic)");
    expect((unknown as CebusError).field).toBe("topic");
    await cebus.admin.createTopic("strict");
    const invalid = await cebus.publish("strict", { type: "", source: "/s" }).catch((e: unknown) => e);
    expect((invalid as CebusError).code).toBe("invalid_argument");
    // A unary call's error names its field too (the ErrorInfo detail).
    const badName = await cebus.admin.createTopic("no spaces allowed").catch((e: unknown) => e);
    expect(badName).toMatchObject({ code: "invalid_argument", field: "topic.name" });
    const noTopic = await cebus.admin
      .createSubscription("orphan", { topic: "missing-topic" })
      .catch((e: unknown) => e);
    expect(noTopic).toMatchObject({ code: "not_found", field: "subscription.topic" });
    const unreachable = await createClient({ url: "http://127.0.0.1:9" })
      .admin.listTopics()
      .catch((e: unknown) => e);
    expect((unreachable as CebusError).code).toBe("unavailable");
    expect((unreachable as CebusError).message).toContain(
      "cannot reach the Cebus broker at http://127.0.0.1:9",
    );
    const missing = cebus.subscribe("no-such-subscription");
    await expect(missing[Symbol.asyncIterator]().next()).rejects.toMatchObject({ code: "not_found" });
    await cebus.close();
  });
});

describe("@cebus/client across a broker restart", () => {
  it("reconnects after the broker is killed and restarted, and unacked events are redelivered", async () => {
    await using own = await startBroker({ store: "sqlite" });
    const cebus = createClient({ url: own.url });
    await cebus.admin.createTopic("restart");
    await cebus.admin.createSubscription("restart-sub", {
      topic: "restart",
      startAt: "earliest",
      ackDeadlineMs: 1000,
    });
    await cebus.publish("restart", { id: "x", type: "t", source: "/s" });
    const subscription = cebus.subscribe("restart-sub");
    const iterator = subscription[Symbol.asyncIterator]();
    const [before] = await take(iterator, 1);
    expect(before?.attempt).toBe(1);
    const statuses: string[] = [];
    void (async () => {
      for await (const status of subscription.status()) statuses.push(status.type);
    })();
    await own.kill("SIGKILL");
    await own.restart();
    // The stream it came on is gone: the ack is not sent (failed_precondition) and the event comes back.
    await expect(before?.ack()).rejects.toMatchObject({ code: "failed_precondition" });
    const [after] = await take(iterator, 1);
    // Attempt 2: the lease was durable before the event went out, so the kill did not lose it.
    expect([after?.id, after?.attempt]).toEqual(["x", 2]);
    await after?.ack();
    expect(statuses).toContain("reconnecting");
    await subscription.close();
    await cebus.close();
  });
});
