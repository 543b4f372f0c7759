// Hand-made histories for the checkers' tests: a one-subscription case, deliveries, settles and faults on one clock.
// Not part of the build (conformance/tsconfig.json excludes it; tsconfig.tests.json type-checks it).
import { parseSuite } from "./case.js";
import type { CaseContext } from "./case-context.js";
import { createHistory, type HistoryEntry } from "./history.js";

export const SUB = "topic-main";

export function context(
  yaml: string,
  entries: HistoryEntry[],
  published: [string, string | undefined][],
): CaseContext {
  const [c] = parseSuite(yaml, "test.yaml");
  if (!c) throw new Error("no case");
  const history = createHistory();
  history.add({
    op: "publish",
    at: 0,
    end: 0,
    client: "c1",
    ids: published.map(([id]) => id),
    keys: published.map(([, key]) => key),
    ok: true,
  });
  for (const e of entries) history.add(e);
  return {
    c,
    topic: "topic",
    deadLetterTopic: "topic-dlq",
    history,
    subscriptions: new Map(c.subscriptions.map((s) => [s.name, { ...s, fullName: `topic-${s.name}` }])),
    subscribers: new Map([["s1", { subscription: SUB, client: "c1" }]]),
    admin: () => {
      throw new Error("checkers must not call the broker");
    },
    published: new Map(published.map(([id, key], offset) => [id, { key, partition: 0, offset }])),
  };
}

export const yaml = (expect: string, ordered = false) => `- id: t
  name: t
  guarantee: g
  subscriptions: [{ name: main, ordered: ${ordered}, ackDeadlineMs: 1000 }]
  steps: [{ wait: { ms: 1 } }]
  expect: ${expect}
`;

let clock = 0;
/** The next instant of the tests' clock (history milliseconds). */
export const tick = (): number => ++clock;
export const deliver = (id: string, attempt = 1, key?: string): HistoryEntry => ({
  op: "deliver",
  at: tick(),
  client: "c1",
  subscriber: "s1",
  subscription: SUB,
  id,
  key,
  deliveryId: `${id}.${attempt}`,
  attempt,
  partition: 0,
  offset: 0,
  attributes: {},
  redundant: false,
});
export const settle = (id: string, attempt = 1, ok = true, error?: string): HistoryEntry => ({
  op: "settle",
  at: tick(),
  end: tick(),
  client: "c1",
  subscriber: "s1",
  subscription: SUB,
  id,
  key: undefined,
  deliveryId: `${id}.${attempt}`,
  action: "ack",
  ok,
  error,
});

/** A clean close of subscriber s1: the one fault that releases its leases at once (src/excuses.ts). */
export const release = (): HistoryEntry => ({
  op: "fault",
  at: tick(),
  fault: "unsubscribed s1",
  kind: "unsubscribe",
  subscriber: "s1",
});

export const timed = (yamlSubscription: string, expect: string, policy = "{}") => `- id: t
  name: t
  guarantee: g
  subscriptions: [${yamlSubscription}]
  steps: [{ subscribe: { subscriber: s1, subscription: main, policy: ${policy} } }]
  expect: ${expect}
`;
export const deliverAt = (
  at: number,
  id: string,
  attempt: number,
  subscriber = "s1",
  key?: string,
): HistoryEntry => ({
  ...(deliver(id, attempt, key) as Extract<HistoryEntry, { op: "deliver" }>),
  at,
  subscriber,
  client: subscriber === "s1" ? "c1" : "c2",
});
export const settleAt = (
  at: number,
  id: string,
  attempt: number,
  action: "ack" | "nack",
  subscriber = "s1",
): HistoryEntry => ({
  ...(settle(id, attempt) as Extract<HistoryEntry, { op: "settle" }>),
  at,
  end: at + 2,
  action,
  subscriber,
});
