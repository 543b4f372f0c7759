import { msToDuration, timestampMs } from "@cebus/core";
import type { DeliveryEvent, SettleCommand } from "@cebus/proto/conformance";
import type { SettlePolicy } from "./case.js";
import type { ClientProcess } from "./client-process.js";
import type { History, HistoryEntry } from "./history.js";

/** What the runner settles a delivery with (or that it leaves it to expire). */
export type Decision = "ack" | "nack" | "term" | "ignore";

type SettleAction = Extract<HistoryEntry, { op: "settle" }>["action"];

/** What a subscriber's deliveries are settled against: the case's history, clients and settle policies. */
export interface SettleContext {
  readonly history: History;
  readonly clients: Map<string, ClientProcess>;
  /** subscriber name -> full subscription name */
  readonly subscribers: Map<string, { subscription: string; client: string }>;
  readonly policies: Map<string, SettlePolicy>;
  /** Deliveries seen per subscriber (for `crashAfter`). */
  readonly counters: Map<string, number>;
  /** Keep each delivered event in the history (the case compares them with what was published). */
  readonly keepEvents: boolean;
  /** `nackElsewhere`: a unary Nack through a broker process other than the client's; resolves with the error. */
  readonly nackElsewhere: (
    clientName: string,
    subscription: string,
    deliveryId: string,
  ) => Promise<string | undefined>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** How the policy settles this delivery. */
export function decide(policy: SettlePolicy, d: DeliveryEvent): Decision {
  const id = d.event?.id ?? "";
  if (policy.ignoreAll) return "ignore";
  if (policy.ignoreAttempts?.includes(d.attempt)) return "ignore";
  if (policy.termIds && new RegExp(policy.termIds).test(id)) return "term";
  const idMatches = policy.nackIds === undefined || new RegExp(policy.nackIds).test(id);
  const attemptMatches = policy.nackAttempts === undefined || policy.nackAttempts.includes(d.attempt);
  if ((policy.nackIds !== undefined || policy.nackAttempts !== undefined) && idMatches && attemptMatches)
    return "nack";
  return "ack";
}

/** The client command for a settle of `d` (or of another delivery id of the same subscriber). */
export function settleCommand(d: DeliveryEvent, action: SettleCommand["action"]) {
  return {
    case: "settle" as const,
    value: {
      $typeName: "cebus.conformance.v1.SettleCommand" as const,
      subscriber: d.subscriber,
      deliveryId: d.deliveryId,
      action,
    },
  };
}

function actionOf(decision: "ack" | "nack" | "term", policy: SettlePolicy): SettleCommand["action"] {
  if (decision === "ack")
    return { case: "ack", value: { $typeName: "cebus.conformance.v1.SettleCommand.Ack" } };
  if (decision === "term")
    return {
      case: "term",
      value: { $typeName: "cebus.conformance.v1.SettleCommand.Term", reason: "conformance term" },
    };
  return {
    case: "nack",
    value: {
      $typeName: "cebus.conformance.v1.SettleCommand.Nack",
      delay: policy.nackDelayMs === undefined ? undefined : msToDuration(policy.nackDelayMs),
    },
  };
}

/** Records the delivery in the history, then settles it as its subscriber's policy says. */
export async function onDelivery(ctx: SettleContext, clientName: string, d: DeliveryEvent): Promise<void> {
  const subscriber = ctx.subscribers.get(d.subscriber);
  if (!subscriber) return;
  recordDelivery(ctx.history, clientName, subscriber.subscription, d, ctx.keepEvents);
  const policy = ctx.policies.get(d.subscriber) ?? {};
  if (await crashed(ctx, clientName, policy, d)) return;
  const decision = decide(policy, d);
  if (decision === "ignore") return;
  const client = ctx.clients.get(clientName);
  if (!client) return;
  const settle = (deliveryId: string, action: SettleAction, command: SettleCommand["action"]) =>
    settleAndRecord(
      ctx,
      { clientName, client, subscription: subscriber.subscription, d, deliveryId },
      action,
      command,
    );
  if (policy.staleSettle && d.attempt > 1) {
    const stale = ctx.history.entries.find(
      (e) =>
        e.op === "deliver" && e.subscriber === d.subscriber && e.id === d.event?.id && e.attempt < d.attempt,
    );
    if (stale?.op === "deliver")
      await settle(stale.deliveryId, `stale-${policy.staleSettle}`, actionOf(policy.staleSettle, policy));
  }
  if (policy.extendMs) {
    await client.send(
      settleCommand(d, {
        case: "extend",
        value: {
          $typeName: "cebus.conformance.v1.SettleCommand.Extend",
          extension: msToDuration(policy.extendMs),
        },
      }),
    );
  }
  if (policy.holdMs && (policy.holdAttempts === undefined || policy.holdAttempts.includes(d.attempt)))
    await sleep(policy.holdMs);
  if (decision === "nack" && policy.nackElsewhere)
    await nackElsewhere(ctx, clientName, subscriber.subscription, d);
  else await settle(d.deliveryId, decision, actionOf(decision, policy));
  if (policy.settleTwice) await settle(d.deliveryId, "repeat-ack", actionOf("ack", policy));
}

function recordDelivery(
  history: History,
  clientName: string,
  subscription: string,
  d: DeliveryEvent,
  keepEvents: boolean,
): void {
  const attributes: Record<string, string> = {};
  for (const [k, v] of Object.entries(d.event?.attributes ?? {})) attributes[k] = String(v.attr.value ?? "");
  attributes.type = d.event?.type ?? "";
  attributes.source = d.event?.source ?? "";
  history.add({
    op: "deliver",
    at: history.now(),
    client: clientName,
    subscriber: d.subscriber,
    subscription,
    id: d.event?.id ?? "",
    key: d.event?.attributes.partitionkey?.attr.value as string | undefined,
    deliveryId: d.deliveryId,
    attempt: d.attempt,
    partition: d.partition,
    offset: Number(d.offset),
    attributes,
    redundant: d.redundant,
    leaseDeadline: d.leaseDeadline ? timestampMs(d.leaseDeadline) : undefined,
    ...(keepEvents && d.event ? { event: d.event } : {}),
  });
}

/** `crashAfter`: kills the client at its subscriber's delivery after the limit, and drops later ones. */
async function crashed(
  ctx: SettleContext,
  clientName: string,
  policy: SettlePolicy,
  d: DeliveryEvent,
): Promise<boolean> {
  const seen = (ctx.counters.get(d.subscriber) ?? 0) + 1;
  ctx.counters.set(d.subscriber, seen);
  if (policy.crashAfter === undefined || seen <= policy.crashAfter) return false;
  if (seen === policy.crashAfter + 1) {
    ctx.history.add({
      op: "fault",
      at: ctx.history.now(),
      fault: `client ${clientName} killed after ${policy.crashAfter} deliveries`,
      killed: clientName,
      kind: "client-kill",
    });
    await ctx.clients.get(clientName)?.kill();
  }
  return true;
}

interface Target {
  clientName: string;
  client: ClientProcess;
  subscription: string;
  d: DeliveryEvent;
  /** The delivery id to settle: `d`'s own, or a stale one of the same event. */
  deliveryId: string;
}

/** `nackElsewhere`: the runner nacks through another broker process, recorded as the client's nack would be. */
async function nackElsewhere(ctx: SettleContext, clientName: string, subscription: string, d: DeliveryEvent) {
  const at = ctx.history.now();
  const error = await ctx.nackElsewhere(clientName, subscription, d.deliveryId);
  ctx.history.add({
    op: "settle",
    at,
    end: ctx.history.now(),
    client: clientName,
    subscriber: d.subscriber,
    subscription,
    id: d.event?.id ?? "",
    key: d.event?.attributes.partitionkey?.attr.value as string | undefined,
    deliveryId: d.deliveryId,
    action: "nack",
    ok: error === undefined,
    error,
  });
}

/** Sends one settle through the client and records it (with the client's answer) in the history. */
async function settleAndRecord(
  ctx: SettleContext,
  t: Target,
  action: SettleAction,
  command: SettleCommand["action"],
): Promise<void> {
  const at = ctx.history.now();
  let ok = false;
  let error: string | undefined;
  try {
    const result = await t.client.send(settleCommand({ ...t.d, deliveryId: t.deliveryId }, command));
    ok = result.errorCode === "";
    if (!ok) error = `${result.errorCode}: ${result.errorMessage}`;
  } catch (reason) {
    // the client died with the settle in flight: whether the broker applied it is unknown
    error = `unknown: ${reason instanceof Error ? reason.message : String(reason)}`;
  }
  ctx.history.add({
    op: "settle",
    at,
    end: ctx.history.now(),
    client: t.clientName,
    subscriber: t.d.subscriber,
    subscription: t.subscription,
    id: t.d.event?.id ?? "",
    key: t.d.event?.attributes.partitionkey?.attr.value as string | undefined,
    deliveryId: t.deliveryId,
    action,
    ok,
    error,
  });
}
