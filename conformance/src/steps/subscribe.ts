import type { StepOf } from "../case.js";
import { expectOk } from "../case-clients.js";
import type { CaseRun } from "../case-context.js";

/** `subscribe`: a subscriber of a client starts consuming a subscription, settling by its policy. */
export async function subscribeStep(run: CaseRun, s: StepOf<"subscribe">): Promise<void> {
  const spec = run.subscriptions.get(s.subscription);
  if (!spec) throw new Error(`step subscribes to unknown subscription '${s.subscription}'`);
  const clientName = s.client ?? run.c.clients[0] ?? "c1";
  run.subscribers.set(s.subscriber, { subscription: spec.fullName, client: clientName });
  run.settling.policies.set(s.subscriber, s.policy ?? {});
  const client = run.clients.get(clientName);
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
}

/**
 * `unsubscribe`: a clean close of a subscriber. It releases the subscriber's leases, so redeliveries to others are
 * expected from here on: recorded as a fault of kind `unsubscribe` for the excuse table.
 */
export async function unsubscribeStep(run: CaseRun, u: StepOf<"unsubscribe">): Promise<void> {
  const client = run.clients.get(u.client ?? run.c.clients[0] ?? "c1");
  await expectOk(
    client?.send({
      case: "unsubscribe",
      value: { $typeName: "cebus.conformance.v1.UnsubscribeCommand", subscriber: u.subscriber },
    }) ?? Promise.reject(new Error("unsubscribe from an unknown client")),
    `unsubscribe ${u.subscriber}`,
  );
  run.history.add({
    op: "fault",
    at: run.history.now(),
    fault: `unsubscribed ${u.subscriber}`,
    kind: "unsubscribe",
    subscriber: u.subscriber,
  });
}
