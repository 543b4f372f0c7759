import { create, fromJson } from "@bufbuild/protobuf";
import { msToDuration } from "@cebus/core";
import { DeliveryMode, type Filter, FilterSchema, SubscriptionSchema, TopicSchema } from "@cebus/proto";
import { createRawClients, type RawClients } from "@cebus/testing";
import type { ConformanceCase } from "./case.js";
import { nackElsewhere, startClient } from "./case-clients.js";
import type { CaseEnvironment, CaseRun, CaseSubscription } from "./case-context.js";
import { createHistory } from "./history.js";
import { startFaultProxy } from "./proxy.js";
import { DEFAULT_RETRY } from "./timing.js";

/** The state of a new run of `c`: a topic name of its own, nothing on the broker yet. */
export function createCaseRun(c: ConformanceCase, env: CaseEnvironment): CaseRun {
  let rawClients: { url: string; clients: RawClients } | undefined;
  const raw = (): RawClients => {
    if (rawClients?.url !== env.target.url)
      rawClients = { url: env.target.url, clients: createRawClients(env.target.url) };
    return rawClients.clients;
  };
  const unique = `${c.id.replace(/[^a-z0-9]+/g, "-")}-${Math.random().toString(36).slice(2, 8)}`;
  const topic = `cf-${unique}`;
  const history = createHistory();
  const clients: CaseRun["clients"] = new Map();
  const subscribers: CaseRun["subscribers"] = new Map();
  const run: CaseRun = {
    c,
    env,
    topic,
    deadLetterTopic: `${topic}-dlq`,
    history,
    subscriptions: new Map(c.subscriptions.map((s) => [s.name, { ...s, fullName: `${topic}-${s.name}` }])),
    subscribers,
    admin: () => raw().admin,
    raw,
    published: new Map(),
    clients,
    proxy: undefined,
    marks: new Map(),
    background: [],
    failure: undefined,
    elsewhere: new Map(),
    settling: {
      history,
      clients,
      subscribers,
      policies: new Map(),
      counters: new Map(),
      keepEvents: c.expect.sameEvents === true,
      nackElsewhere: (clientName, subscription, deliveryId) =>
        nackElsewhere(run, clientName, subscription, deliveryId),
    },
  };
  return run;
}

/**
 * Setup: the brokers' retention sweep as the case wants it, the topic (and its dead-letter topic), the
 * subscriptions, the fault proxy when the case needs one, then each client process, connected.
 */
export async function setupCase(run: CaseRun): Promise<void> {
  const { c, env } = run;
  await env.target.useRetentionSweep(c.retentionSweep);
  const admin = run.admin();
  await admin.createTopic({
    topic: create(TopicSchema, {
      name: run.topic,
      partitions: c.topic.partitions ?? 1,
      dedupeWindow: c.topic.dedupeWindowMs === undefined ? undefined : msToDuration(c.topic.dedupeWindowMs),
      retention: c.topic.retentionMs === undefined ? undefined : msToDuration(c.topic.retentionMs),
      maxEventBytes: BigInt(c.topic.maxEventBytes ?? 0),
    }),
  });
  if (c.subscriptions.some((s) => s.deadLetter)) {
    await admin.createTopic({ topic: create(TopicSchema, { name: run.deadLetterTopic }) });
  }
  for (const spec of run.subscriptions.values()) {
    await admin.createSubscription({ subscription: subscriptionOf(run, spec) });
  }
  if (c.needsProxy) {
    const port = new URL(env.target.url).port;
    run.proxy = await startFaultProxy(port ? Number(port) : 80);
  }
  for (const name of c.clients) await startClient(run, name);
}

/** The broker's subscription for a case's subscription; without a retry policy, the runner's default one. */
function subscriptionOf(run: CaseRun, spec: CaseSubscription) {
  const retry = spec.retry ?? DEFAULT_RETRY;
  return create(SubscriptionSchema, {
    name: spec.fullName,
    topic: run.topic,
    ordered: spec.ordered ?? false,
    deliveryMode: spec.mode === "at-most-once" ? DeliveryMode.AT_MOST_ONCE : DeliveryMode.AT_LEAST_ONCE,
    ackDeadline: spec.ackDeadlineMs === undefined ? undefined : msToDuration(spec.ackDeadlineMs),
    maxDeliveryAttempts: spec.maxAttempts ?? 0,
    deadLetterTopic: spec.deadLetter ? run.deadLetterTopic : "",
    retryPolicy: {
      minimumBackoff: msToDuration(retry.minMs),
      maximumBackoff: msToDuration(retry.maxMs),
      multiplier: retry.multiplier ?? 2,
      jitter: retry.jitter ?? 0,
    },
    filter: toFilter(spec.filter),
    startPosition: { position: { case: spec.start === "latest" ? "latest" : "earliest", value: {} } },
  });
}

function toFilter(json: unknown): Filter | undefined {
  return json === undefined ? undefined : fromJson(FilterSchema, json as never);
}
