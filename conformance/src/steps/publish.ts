import { create } from "@bufbuild/protobuf";
import { stringAttribute } from "@cebus/core";
import { type CloudEvent, CloudEventSchema } from "@cebus/proto";
import type { StepOf } from "../case.js";
import type { CaseRun } from "../case-context.js";
import { fullEnvelopeEvent } from "../envelope.js";

type Publish = StepOf<"publish">;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * `publish`: the step's events, in batches, from one client or spread over several. In the background (`background`)
 * the steps go on and the settle-down waits for it; a failure there fails the case.
 */
export async function publishStep(run: CaseRun, step: Publish): Promise<void> {
  const publishing = publish(run, step);
  if (!step.background) return publishing;
  run.background.push(
    publishing.catch((e) => {
      run.failure ??= `background publish: ${e}`;
    }),
  );
}

/** The step's events: ids `<prefix><n>`, keys round robin, and the invalid field a bad-input case asks for. */
export function eventsOf(step: Publish): CloudEvent[] {
  const ids = Array.from({ length: step.count }, (_, n) => `${step.prefix ?? "e"}${n}`);
  const keyOf = (n: number) => (step.keys ? `k${n % step.keys}` : undefined);
  const previousOfKey = new Map<string, string>();
  return ids.map((id, n) => {
    const key = keyOf(n);
    if (step.envelope === "full") {
      const event = fullEnvelopeEvent(id, n, step.source ?? "/conformance", step.type ?? "conformance.event");
      if (key) event.attributes.partitionkey = stringAttribute(key);
      return event;
    }
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
}

/** Each publisher sends its share (or, with `sameIds`, all) of the events, batch by batch. */
async function publish(run: CaseRun, step: Publish): Promise<void> {
  const events = eventsOf(step);
  const publishers = step.clients ?? [step.client ?? run.c.clients[0] ?? "c1"];
  await Promise.all(
    publishers.map((clientName, index) =>
      publishShare(
        run,
        step,
        clientName,
        step.sameIds ? events : events.filter((_, n) => n % publishers.length === index),
      ),
    ),
  );
}

/** One publisher's events: stops at `stopAtMark`, republishes with `retryEachBatch`, retries with `retryUntilOk`. */
async function publishShare(run: CaseRun, step: Publish, clientName: string, mine: CloudEvent[]) {
  const batch = step.batch ?? 10;
  const timeoutMs = step.timeoutMs ?? 5000;
  for (let i = 0; i < mine.length; i += batch) {
    if (step.stopAtMark !== undefined && run.marks.has(step.stopAtMark)) return;
    const chunk = mine.slice(i, i + batch);
    const attempts = step.retryEachBatch ? 2 : 1;
    for (let attempt = 0; attempt < attempts; attempt++) {
      let ok = await publishBatch(run, clientName, chunk, timeoutMs);
      for (let retry = 1; !ok && step.retryUntilOk; retry++) {
        if (retry > 200) throw new Error(`publish of ${chunk[0]?.id}.. still failing after 200 retries`);
        await sleep(Math.min(1000, 50 * retry));
        ok = await publishBatch(run, clientName, chunk, timeoutMs);
      }
    }
  }
}

/** One publish call through a client, recorded with its answer; the events it stored join `published`. */
async function publishBatch(
  run: CaseRun,
  clientName: string,
  events: CloudEvent[],
  timeoutMs: number,
): Promise<boolean> {
  const client = run.clients.get(clientName);
  if (!client) throw new Error(`no client ${clientName}`);
  const { history } = run;
  const at = history.now();
  const result = await client.send({
    case: "publish",
    value: { $typeName: "cebus.conformance.v1.PublishCommand", topic: run.topic, events, timeoutMs },
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
  if (!ok) return false;
  result.published.forEach((p, i) => {
    const event = events[i] as CloudEvent;
    if (!run.published.has(event.id)) {
      run.published.set(event.id, {
        key: event.attributes.partitionkey?.attr.value as string | undefined,
        partition: p.partition,
        offset: Number(p.offset),
        ...(run.c.expect.sameEvents ? { event } : {}),
      });
    }
  });
  return true;
}
