import { create, fromJson } from "@bufbuild/protobuf";
import { toCebusError } from "@cebus/client";
import { msToDuration, stringAttribute } from "@cebus/core";
import {
  type CloudEvent,
  CloudEventSchema,
  DeliveryMode,
  type Filter,
  FilterSchema,
  SubscriptionSchema,
  TopicSchema,
} from "@cebus/proto";
import { createRawClients, type RawClients } from "@cebus/testing";
import {
  type ConformanceCase,
  quietPeriodMs,
  type SettlePolicy,
  type Step,
  type SubscriptionSpec,
} from "./case.js";
import { type Anomaly, ambiguousAcks, checkHistory, type DeadLetterRecord } from "./checkers.js";
import { type ClientProcess, startClientProcess } from "./client-process.js";
import { checkDrained, type SubscriptionCounts } from "./drain-checks.js";
import { faultKindOf } from "./excuses.js";
import { createHistory, type History } from "./history.js";
import { killAtPublishAck } from "./kill-at-ack.js";
import { type FaultProxy, startFaultProxy } from "./proxy.js";
import { seekStep } from "./seek-step.js";
import { onDelivery, type SettleContext } from "./settle-step.js";
import type { BrokerTarget } from "./target.js";

export interface CaseEnvironment {
  target: BrokerTarget;
  /** The client under test: a command line. */
  client: string[];
  /** False for stores that lose data on restart (memory): cases that restart the broker are skipped. */
  durable: boolean;
}

export interface CaseResult {
  id: string;
  name: string;
  guarantee: string;
  level: "must" | "should";
  status: "passed" | "failed" | "skipped";
  anomalies: Anomaly[];
  durationMs: number;
  /** Why it was skipped, or what broke (not an anomaly: e.g. a client that crashed). */
  reason?: string;
  counts: { published: number; delivered: number; acked: number };
  /** The recorded history, kept for failed cases so they can be diagnosed (written next to the report). */
  history?: History["entries"];
}

export interface CaseContext {
  readonly c: ConformanceCase;
  readonly topic: string;
  readonly deadLetterTopic: string;
  readonly history: History;
  readonly subscriptions: Map<string, SubscriptionSpec & { fullName: string }>;
  /** subscriber name -> full subscription name */
  readonly subscribers: Map<string, { subscription: string; client: string }>;
  admin(): RawClients["admin"];
  /** Ids of events whose publish returned OK, with their key, in publish order. */
  readonly published: Map<string, { key: string | undefined; partition: number; offset: number }>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function toFilter(json: unknown): Filter | undefined {
  return json === undefined ? undefined : fromJson(FilterSchema, json as never);
}

export async function runCase(c: ConformanceCase, env: CaseEnvironment): Promise<CaseResult> {
  const started = performance.now();
  const base = { id: c.id, name: c.name, guarantee: c.guarantee, level: c.level };
  const empty = { published: 0, delivered: 0, acked: 0 };
  if (c.needsBrokerControl && !env.target.controllable) {
    return {
      ...base,
      status: "skipped",
      anomalies: [],
      durationMs: 0,
      reason: "needs to control the broker process (not possible with --broker URL)",
      counts: empty,
    };
  }
  if (c.needsBackend && !env.target.backendServer) {
    return {
      ...base,
      status: "skipped",
      anomalies: [],
      durationMs: 0,
      reason: "kills the backend server: only for backends the runner starts (redis, postgres, nats)",
      counts: empty,
    };
  }
  const restarts = c.steps.some(
    (s) =>
      ("fault" in s &&
        s.fault.broker !== undefined &&
        s.fault.broker !== "pause" &&
        s.fault.broker !== "resume") ||
      "killAtPublishAck" in s,
  );
  if (restarts && !env.durable) {
    return {
      ...base,
      status: "skipped",
      anomalies: [],
      durationMs: 0,
      reason: "restarts the broker: needs a durable store",
      counts: empty,
    };
  }

  let rawClients: { url: string; clients: RawClients } | undefined;
  const raw = (): RawClients => {
    if (rawClients?.url !== env.target.url)
      rawClients = { url: env.target.url, clients: createRawClients(env.target.url) };
    return rawClients.clients;
  };
  const marks = new Map<string, number>();
  const unique = `${c.id.replace(/[^a-z0-9]+/g, "-")}-${Math.random().toString(36).slice(2, 8)}`;
  const history = createHistory();
  const topic = `cf-${unique}`;
  const ctx: CaseContext = {
    c,
    topic,
    deadLetterTopic: `${topic}-dlq`,
    history,
    subscriptions: new Map(c.subscriptions.map((s) => [s.name, { ...s, fullName: `${topic}-${s.name}` }])),
    subscribers: new Map(),
    admin: () => raw().admin,
    published: new Map(),
  };
  let proxy: FaultProxy | undefined;
  const clients = new Map<string, ClientProcess>();
  const background: Promise<void>[] = [];
  const counters = new Map<string, number>();
  let failure: string | undefined;

  /** Clients spread over the broker processes (one subscription's consumers then sit on different brokers). */
  const clientUrl = (name?: string) => {
    if (proxy) return proxy.url;
    const urls = env.target.urls;
    const index = Math.max(0, name === undefined ? 0 : c.clients.indexOf(name));
    return urls[index % urls.length] ?? env.target.url;
  };

  async function setup(): Promise<void> {
    const admin = ctx.admin();
    await admin.createTopic({
      topic: create(TopicSchema, {
        name: topic,
        partitions: c.topic.partitions ?? 1,
        dedupeWindow: c.topic.dedupeWindowMs === undefined ? undefined : msToDuration(c.topic.dedupeWindowMs),
        retention: c.topic.retentionMs === undefined ? undefined : msToDuration(c.topic.retentionMs),
        maxEventBytes: BigInt(c.topic.maxEventBytes ?? 0),
      }),
    });
    if (c.subscriptions.some((s) => s.deadLetter)) {
      await admin.createTopic({ topic: create(TopicSchema, { name: ctx.deadLetterTopic }) });
    }
    for (const spec of ctx.subscriptions.values()) {
      await admin.createSubscription({
        subscription: create(SubscriptionSchema, {
          name: spec.fullName,
          topic,
          ordered: spec.ordered ?? false,
          deliveryMode: spec.mode === "at-most-once" ? DeliveryMode.AT_MOST_ONCE : DeliveryMode.AT_LEAST_ONCE,
          ackDeadline: spec.ackDeadlineMs === undefined ? undefined : msToDuration(spec.ackDeadlineMs),
          maxDeliveryAttempts: spec.maxAttempts ?? 0,
          deadLetterTopic: spec.deadLetter ? ctx.deadLetterTopic : "",
          retryPolicy: spec.retry
            ? {
                minimumBackoff: msToDuration(spec.retry.minMs),
                maximumBackoff: msToDuration(spec.retry.maxMs),
                multiplier: spec.retry.multiplier ?? 2,
                jitter: spec.retry.jitter ?? 0,
              }
            : {
                minimumBackoff: msToDuration(100),
                maximumBackoff: msToDuration(1000),
                multiplier: 2,
                jitter: 0,
              },
          filter: toFilter(spec.filter),
          startPosition: { position: { case: spec.start === "latest" ? "latest" : "earliest", value: {} } },
        }),
      });
    }
    if (c.needsProxy)
      proxy = await startFaultProxy(new URL(env.target.url).port ? Number(new URL(env.target.url).port) : 80);
    for (const name of c.clients) await startClient(name);
  }

  async function startClient(name: string): Promise<void> {
    const client = startClientProcess(name, env.client);
    clients.set(name, client);
    client.onDelivery((d) => void onDelivery(settling, name, d));
    client.onNotice((text) => history.add({ op: "notice", at: history.now(), client: name, text }));
    await expectOk(
      client.send({
        case: "connect",
        value: { $typeName: "cebus.conformance.v1.ConnectCommand", url: clientUrl(name) },
      }),
      "connect",
    );
  }

  async function expectOk(result: Promise<{ errorCode: string; errorMessage: string }>, what: string) {
    const r = await result;
    if (r.errorCode) throw new Error(`${what} failed: ${r.errorCode}: ${r.errorMessage}`);
  }

  const policies = new Map<string, SettlePolicy>();
  const elsewhere = new Map<string, RawClients>();
  /** A unary Nack through the broker process after the client's (the client's own when there is one). */
  async function nackElsewhere(clientName: string, subscription: string, deliveryId: string) {
    const urls = env.target.urls;
    const index = Math.max(0, c.clients.indexOf(clientName)) + 1;
    const url = proxy ? env.target.url : (urls[index % urls.length] ?? env.target.url);
    const rawAt = elsewhere.get(url) ?? createRawClients(url);
    elsewhere.set(url, rawAt);
    try {
      await rawAt.subscriber.nack({ subscription, deliveryIds: [deliveryId] });
      return undefined;
    } catch (error) {
      const cebus = toCebusError(error, url);
      return `${cebus.code}: ${cebus.message}`;
    }
  }
  const settling: SettleContext = {
    history,
    clients,
    subscribers: ctx.subscribers,
    policies,
    counters,
    nackElsewhere,
  };

  async function publish(step: Extract<Step, { publish: unknown }>["publish"]): Promise<void> {
    const ids = Array.from({ length: step.count }, (_, n) => `${step.prefix ?? "e"}${n}`);
    const keyOf = (n: number) => (step.keys ? `k${n % step.keys}` : undefined);
    const previousOfKey = new Map<string, string>();
    const events: CloudEvent[] = ids.map((id, n) => {
      const key = keyOf(n);
      const attributes: CloudEvent["attributes"] = {};
      if (key) attributes.partitionkey = stringAttribute(key);
      if (step.causal && key && previousOfKey.has(key))
        attributes.causationid = stringAttribute(previousOfKey.get(key) as string);
      if (key) previousOfKey.set(key, id);
      for (const [name, value] of Object.entries(step.attributes ?? {}))
        attributes[name] = stringAttribute(value);
      return create(CloudEventSchema, {
        id,
        source: step.invalid === "missing-source" ? "" : (step.source ?? "/conformance"),
        specVersion: step.invalid === "bad-specversion" ? "0.3" : "1.0",
        type: step.invalid === "missing-type" ? "" : (step.type ?? "conformance.event"),
        attributes,
        data: { case: "textData", value: step.dataBytes ? "x".repeat(step.dataBytes) : `{"n":${n}}` },
      });
    });
    const publishers = step.clients ?? [step.client ?? c.clients[0] ?? "c1"];
    const batch = step.batch ?? 10;
    const timeoutMs = step.timeoutMs ?? 5000;
    await Promise.all(
      publishers.map(async (clientName, index) => {
        const mine = step.sameIds ? events : events.filter((_, n) => n % publishers.length === index);
        for (let i = 0; i < mine.length; i += batch) {
          if (step.stopAtMark !== undefined && marks.has(step.stopAtMark)) return;
          const chunk = mine.slice(i, i + batch);
          const attempts = step.retryEachBatch ? 2 : 1;
          for (let attempt = 0; attempt < attempts; attempt++) {
            let ok = await publishBatch(clientName, chunk, timeoutMs);
            for (let retry = 1; !ok && step.retryUntilOk; retry++) {
              if (retry > 200)
                throw new Error(`publish of ${chunk[0]?.id}.. still failing after 200 retries`);
              await sleep(Math.min(1000, 50 * retry));
              ok = await publishBatch(clientName, chunk, timeoutMs);
            }
          }
        }
      }),
    );
  }

  async function publishBatch(clientName: string, events: CloudEvent[], timeoutMs: number): Promise<boolean> {
    const client = clients.get(clientName);
    if (!client) throw new Error(`no client ${clientName}`);
    const at = history.now();
    const result = await client.send({
      case: "publish",
      value: { $typeName: "cebus.conformance.v1.PublishCommand", topic, events, timeoutMs },
    });
    const ok = result.errorCode === "";
    history.add({
      op: "publish",
      at,
      end: history.now(),
      client: clientName,
      ids: events.map((e) => e.id),
      keys: events.map((e) => e.attributes.partitionkey?.attr.value as string | undefined),
      sources: events.map((e) => e.source),
      ok,
      error: ok ? undefined : `${result.errorCode}: ${result.errorMessage}`,
      duplicate: result.published.map((p) => p.duplicate),
      offsets: result.published.map((p) => Number(p.offset)),
      partitions: result.published.map((p) => p.partition),
    });
    if (ok) {
      result.published.forEach((p, i) => {
        const event = events[i] as CloudEvent;
        if (!ctx.published.has(event.id)) {
          ctx.published.set(event.id, {
            key: event.attributes.partitionkey?.attr.value as string | undefined,
            partition: p.partition,
            offset: Number(p.offset),
          });
        }
      });
    }
    return ok;
  }

  /** After a restart the broker is on the same port when it was free; clients then reconnect by themselves. */
  async function reconnectClients(previousUrl: string): Promise<void> {
    if (proxy) {
      proxy.setTarget(Number(new URL(env.target.url).port));
      return;
    }
    if (env.target.url === previousUrl) return;
    // The restarted broker had to take another port: its clients connect again (resubscribing is up to the case).
    for (const [name, client] of clients) {
      if (env.target.urls.length > 1 && c.clients.indexOf(name) % env.target.urls.length !== 0) continue;
      await client
        .send({
          case: "connect",
          value: { $typeName: "cebus.conformance.v1.ConnectCommand", url: clientUrl(name) },
        })
        .catch(() => {});
    }
  }

  async function runStep(step: Step): Promise<void> {
    if ("subscribe" in step) {
      const s = step.subscribe;
      const spec = ctx.subscriptions.get(s.subscription);
      if (!spec) throw new Error(`step subscribes to unknown subscription '${s.subscription}'`);
      const clientName = s.client ?? c.clients[0] ?? "c1";
      ctx.subscribers.set(s.subscriber, { subscription: spec.fullName, client: clientName });
      policies.set(s.subscriber, s.policy ?? {});
      const client = clients.get(clientName);
      if (!client) throw new Error(`no client ${clientName}`);
      await expectOk(
        client.send({
          case: "subscribe",
          value: {
            $typeName: "cebus.conformance.v1.SubscribeCommand",
            subscriber: s.subscriber,
            subscription: spec.fullName,
            maxOutstanding: s.maxOutstanding ?? 0,
            idempotent: s.idempotent ?? false,
          },
        }),
        `subscribe ${s.subscriber}`,
      );
    } else if ("unsubscribe" in step) {
      const client = clients.get(step.unsubscribe.client ?? c.clients[0] ?? "c1");
      await expectOk(
        client?.send({
          case: "unsubscribe",
          value: {
            $typeName: "cebus.conformance.v1.UnsubscribeCommand",
            subscriber: step.unsubscribe.subscriber,
          },
        }) ?? Promise.reject(new Error("unsubscribe from an unknown client")),
        `unsubscribe ${step.unsubscribe.subscriber}`,
      );
      // a clean close releases the subscriber's leases: redeliveries to others are expected from here on
      history.add({
        op: "fault",
        at: history.now(),
        fault: `unsubscribed ${step.unsubscribe.subscriber}`,
        kind: "unsubscribe",
        subscriber: step.unsubscribe.subscriber,
      });
    } else if ("publish" in step) {
      const run = publish(step.publish);
      if (step.publish.background)
        background.push(
          run.catch((e) => {
            failure ??= `background publish: ${e}`;
          }),
        );
      else await run;
    } else if ("wait" in step) {
      await waitFor(step.wait);
    } else if ("fault" in step) {
      await fault(step.fault);
    } else if ("mark" in step) {
      marks.set(step.mark, Date.now());
    } else if ("read" in step) {
      await read(step.read);
    } else if ("seek" in step) {
      await seekStep(step.seek, {
        ctx,
        marks,
        subscriber: () => raw().subscriber,
        url: env.target.url,
      });
    } else if ("killAtPublishAck" in step) {
      if (!proxy) throw new Error("killAtPublishAck needs the case to run through the proxy");
      await killAtPublishAck(step.killAtPublishAck, {
        history,
        target: env.target,
        proxy,
        restart: () => fault({ broker: "restart" }),
      });
    } else if ("redrive" in step) {
      const spec = ctx.subscriptions.get(step.redrive.subscription);
      history.add({
        op: "fault",
        at: history.now(),
        fault: `redrive ${step.redrive.subscription}`,
        kind: "redrive",
        subscription: spec?.fullName,
      });
      await ctx.admin().redriveDeadLetters({ subscription: spec?.fullName ?? "" });
    }
  }

  async function fault(f: Extract<Step, { fault: unknown }>["fault"]): Promise<void> {
    const label = JSON.stringify(f);
    const killed =
      f.client && (f.clientFault === "kill" || f.clientFault === "restart") ? f.client : undefined;
    const kind = faultKindOf(f);
    history.add({
      op: "fault",
      at: history.now(),
      fault: label,
      ...(killed ? { killed } : {}),
      ...(kind ? { kind } : {}),
    });
    if (f.broker === "kill") await env.target.kill("SIGKILL");
    else if (f.broker === "term") await env.target.kill("SIGTERM");
    else if (f.broker === "pause") env.target.pause();
    else if (f.broker === "resume") env.target.resume();
    else if (f.broker === "restart") {
      const previousUrl = env.target.url;
      await env.target.restart();
      await reconnectClients(previousUrl);
    }
    if (f.backend === "kill") await env.target.backendServer?.kill();
    if (f.backend === "restart") await env.target.backendServer?.restart();
    if (f.client && f.clientFault === "kill") await clients.get(f.client)?.kill();
    if (f.client && f.clientFault === "restart") {
      await clients.get(f.client)?.kill();
      await startClient(f.client);
    }
    if (f.proxy) {
      if (!proxy) throw new Error("proxy faults need the case to run through the proxy");
      if (f.proxy === "reset") proxy.reset();
      else if (f.proxy === "blackhole") proxy.blackhole(true);
      else if (f.proxy === "swallow-responses") proxy.swallowResponses(true);
      else if (f.proxy === "latency") proxy.latency(f.forMs ?? 50);
      else if (f.proxy === "heal") {
        proxy.blackhole(false);
        proxy.swallowResponses(false);
        proxy.latency(0);
        proxy.reset(); // bytes were dropped mid-stream: those connections cannot be trusted, clients reconnect
      }
    }
    if (f.forMs && f.broker === "pause") {
      await sleep(f.forMs);
      env.target.resume();
      history.add({ op: "fault", at: history.now(), fault: "broker resumed" });
    }
  }

  /** Reads the topic without a subscription; with `expectError`, retries until that error comes (retention is periodic). */
  async function read(r: Extract<Step, { read: unknown }>["read"]): Promise<void> {
    const deadline = performance.now() + (r.timeoutMs ?? 90_000);
    for (;;) {
      const at = history.now();
      try {
        const { records } = await raw().subscriber.readTopic({
          topic,
          partition: 0,
          fromOffset: BigInt(r.from),
          limit: 1000,
        });
        history.add({ op: "read", at, from: r.from, ok: true, count: records.length });
        if (r.expectCount !== undefined && !r.expectError && records.length !== r.expectCount)
          throw new Error(
            `read from offset ${r.from} returned ${records.length} records, expected ${r.expectCount}`,
          );
        if (!r.expectError) return;
      } catch (error) {
        const e = toCebusError(error, env.target.url);
        history.add({ op: "read", at, from: r.from, ok: false, error: `${e.code}: ${e.message}`, count: 0 });
        if (r.expectError === e.code) return;
        if (!r.expectError) throw new Error(`read from ${r.from} failed: ${e.code}: ${e.message}`);
      }
      if (performance.now() > deadline)
        throw new Error(`read from offset ${r.from} never failed with ${r.expectError}`);
      await sleep(200);
    }
  }

  const ackedIds = (subscription?: string) => {
    const ids = new Set<string>();
    for (const e of history.entries) {
      if (
        e.op === "settle" &&
        e.ok &&
        (e.action === "ack" || e.action === "term") &&
        (!subscription || e.subscription === subscription)
      )
        ids.add(e.id);
    }
    return ids;
  };

  /** Unacked events the broker still holds for a subscription (backlog + in flight). */
  async function pendingOf(spec: SubscriptionSpec & { fullName: string }): Promise<number> {
    const { stats } = await ctx.admin().getSubscriptionStats({ name: spec.fullName });
    return Number((stats?.backlog ?? 0n) + (stats?.inFlight ?? 0n));
  }

  async function deadLetters(spec: SubscriptionSpec & { fullName: string }): Promise<DeadLetterRecord[]> {
    if (!spec.deadLetter) return [];
    const { deadLetters } = await ctx.admin().listDeadLetters({ subscription: spec.fullName, limit: 10_000 });
    return deadLetters.map((d) => ({ id: d.event?.id ?? "", attempts: d.attempts, reason: d.reason }));
  }

  async function waitFor(w: Extract<Step, { wait: unknown }>["wait"]): Promise<void> {
    if (w.ms) await sleep(w.ms);
    const deadline = performance.now() + (w.timeoutMs ?? 20_000);
    const spec = w.subscription ? ctx.subscriptions.get(w.subscription) : undefined;
    for (;;) {
      const acked = ackedIds(spec?.fullName).size;
      const deliveries = history.entries.filter(
        (e) => e.op === "deliver" && (!spec || e.subscription === spec.fullName),
      );
      const delivered = new Set(deliveries.map((e) => (e as { id: string }).id)).size;
      let dead = 0;
      if (w.deadLettered !== undefined) {
        for (const s of ctx.subscriptions.values())
          if (!spec || s === spec) dead += (await deadLetters(s)).length;
      }
      if (
        (w.acked === undefined || acked >= w.acked) &&
        (w.delivered === undefined || delivered >= w.delivered) &&
        (w.deadLettered === undefined || dead >= w.deadLettered) &&
        (w.deliveries === undefined || deliveries.length >= w.deliveries)
      )
        return;
      if (performance.now() > deadline)
        throw new Error(
          `timed out waiting for ${JSON.stringify(w)} (acked ${acked}, delivered ${delivered}, dead-lettered ${dead})`,
        );
      await sleep(50);
    }
  }

  /** After the steps: wait (bounded) until every expected event reached its end, so checks judge a settled history. */
  async function settleDown(): Promise<{
    dead: Map<string, DeadLetterRecord[]>;
    pending: Map<string, number>;
  }> {
    await Promise.all(background);
    const dead = new Map<string, DeadLetterRecord[]>();
    const pending = new Map<string, number>();
    const deadline = performance.now() + Math.min(20_000, c.timeoutMs / 2);
    const never = c.expect.neverDelivered ? new RegExp(c.expect.neverDelivered) : undefined;
    for (;;) {
      let done = true;
      for (const spec of ctx.subscriptions.values()) {
        dead.set(spec.fullName, await deadLetters(spec));
        if (!(c.expect.allDelivered ?? !c.expect.publishError) || spec.mode === "at-most-once") continue;
        // an ack whose confirmation was lost may have been applied: then the broker holds nothing for it
        const ambiguous = ambiguousAcks(history.entries, spec.fullName);
        if (ambiguous.size > 0) {
          pending.set(spec.fullName, await pendingOf(spec));
          if (pending.get(spec.fullName) !== 0) done = false;
        }
        const finished = new Set([
          ...ackedIds(spec.fullName),
          ...(dead.get(spec.fullName) ?? []).map((r) => r.id),
          ...ambiguous,
        ]);
        for (const id of ctx.published.keys()) {
          if (never?.test(id)) continue;
          if (spec.expectIds && !new RegExp(spec.expectIds).test(id)) continue;
          if (!finished.has(id)) done = false;
        }
      }
      if (c.expect.deadLettered) {
        const total = [...dead.values()].reduce((n, ids) => n + ids.length, 0);
        if (total < c.expect.deadLettered.count) done = false;
      }
      if (done || performance.now() > deadline) break;
      await sleep(100);
    }
    await sleep(quietPeriodMs(c)); // late redeliveries and second dead letters would show up here
    for (const spec of ctx.subscriptions.values()) {
      dead.set(spec.fullName, await deadLetters(spec));
      if (pending.has(spec.fullName)) pending.set(spec.fullName, await pendingOf(spec));
    }
    return { dead, pending };
  }

  let anomalies: Anomaly[] = [];
  try {
    await Promise.race([
      (async () => {
        await env.target.useRetentionSweep(c.retentionSweep);
        await setup();
        for (const step of c.steps) await runStep(step);
        const { dead, pending } = await settleDown();
        const stats =
          c.expect.storedEvents === undefined ? undefined : await ctx.admin().getTopicStats({ name: topic });
        anomalies = checkHistory(
          ctx,
          dead,
          stats ? Number(stats.stats?.eventCount ?? 0n) : undefined,
          pending,
        );
        if (c.expect.drained) anomalies.push(...checkDrained(await subscriptionCounts(ctx)));
      })(),
      sleep(c.timeoutMs).then(() => {
        throw new Error(`case timed out after ${c.timeoutMs} ms`);
      }),
    ]);
  } catch (error) {
    failure = error instanceof Error ? error.message : String(error);
  } finally {
    for (const client of clients.values()) await client.close(2000).catch(() => {});
    await proxy?.close();
    if (env.target.controllable || !failure) {
      const admin = ctx.admin();
      await admin.deleteTopic({ name: topic, force: true }).catch(() => {});
      await admin.deleteTopic({ name: ctx.deadLetterTopic, force: true }).catch(() => {});
    }
  }
  const counts = {
    published: ctx.published.size,
    delivered: history.entries.filter((e) => e.op === "deliver").length,
    acked: ackedIds().size,
  };
  if (failure) {
    const logs = [...clients.values()]
      .map((cl) => cl.log().slice(-1500))
      .filter(Boolean)
      .join("\n");
    return {
      ...base,
      status: "failed",
      anomalies,
      durationMs: performance.now() - started,
      reason: logs ? `${failure}\nclient stderr:\n${logs}` : failure,
      counts,
      history: history.entries,
    };
  }
  const passed = anomalies.length === 0;
  return {
    ...base,
    status: passed ? "passed" : "failed",
    anomalies,
    durationMs: performance.now() - started,
    counts,
    history: passed ? undefined : history.entries,
  };
}

/**
 * Every subscription's backlog and in-flight count as the broker reports them, read until all are zero or for up
 * to 5 s past the longest ack deadline (a consumer may still be passing over filtered events published last).
 */
async function subscriptionCounts(ctx: CaseContext): Promise<SubscriptionCounts[]> {
  const longest = Math.max(0, ...[...ctx.subscriptions.values()].map((s) => s.ackDeadlineMs ?? 0));
  const deadline = performance.now() + longest + 5000;
  for (;;) {
    const counts: SubscriptionCounts[] = [];
    for (const spec of ctx.subscriptions.values()) {
      const { stats } = await ctx.admin().getSubscriptionStats({ name: spec.fullName });
      const backlog = Number(stats?.backlog ?? 0n);
      counts.push({ subscription: spec.fullName, backlog, inFlight: Number(stats?.inFlight ?? 0n) });
    }
    const drained = counts.every((count) => count.backlog === 0 && count.inFlight === 0);
    if (drained || performance.now() > deadline) return counts;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
