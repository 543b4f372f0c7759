import { toCebusError } from "@cebus/client";
import { createRawClients } from "@cebus/testing";
import type { CaseRun } from "./case-context.js";
import { startClientProcess } from "./client-process.js";
import { onDelivery } from "./settle-step.js";

/** Throws naming the command when a client answers it with an error. */
export async function expectOk(
  result: Promise<{ errorCode: string; errorMessage: string }>,
  what: string,
): Promise<void> {
  const r = await result;
  if (r.errorCode) throw new Error(`${what} failed: ${r.errorCode}: ${r.errorMessage}`);
}

/** Clients spread over the broker processes (one subscription's consumers then sit on different brokers). */
export function clientUrl(run: CaseRun, name?: string): string {
  if (run.proxy) return run.proxy.url;
  const urls = run.env.target.urls;
  const index = Math.max(0, name === undefined ? 0 : run.c.clients.indexOf(name));
  return urls[index % urls.length] ?? run.env.target.url;
}

/** Starts a client process, settles its deliveries by the policies, records its notices, and connects it. */
export async function startClient(run: CaseRun, name: string): Promise<void> {
  const client = startClientProcess(name, run.env.client);
  run.clients.set(name, client);
  client.onDelivery((d) => void onDelivery(run.settling, name, d));
  client.onNotice((text) => run.history.add({ op: "notice", at: run.history.now(), client: name, text }));
  await expectOk(
    client.send({
      case: "connect",
      value: { $typeName: "cebus.conformance.v1.ConnectCommand", url: clientUrl(run, name) },
    }),
    "connect",
  );
}

/** After a restart the broker is on the same port when it was free; clients then reconnect by themselves. */
export async function reconnectClients(run: CaseRun, previousUrl: string): Promise<void> {
  const { target } = run.env;
  if (run.proxy) {
    run.proxy.setTarget(Number(new URL(target.url).port));
    return;
  }
  if (target.url === previousUrl) return;
  // The restarted broker had to take another port: its clients connect again (resubscribing is up to the case).
  for (const [name, client] of run.clients) {
    if (target.urls.length > 1 && run.c.clients.indexOf(name) % target.urls.length !== 0) continue;
    await client
      .send({
        case: "connect",
        value: { $typeName: "cebus.conformance.v1.ConnectCommand", url: clientUrl(run, name) },
      })
      .catch(() => {});
  }
}

/**
 * `nackElsewhere`: a unary Nack through the broker process after the client's (the client's own when there is
 * one). Resolves with the error as "code: message", or undefined when the broker took it.
 */
export async function nackElsewhere(
  run: CaseRun,
  clientName: string,
  subscription: string,
  deliveryId: string,
): Promise<string | undefined> {
  const { target } = run.env;
  const index = Math.max(0, run.c.clients.indexOf(clientName)) + 1;
  const url = run.proxy ? target.url : (target.urls[index % target.urls.length] ?? target.url);
  const rawAt = run.elsewhere.get(url) ?? createRawClients(url);
  run.elsewhere.set(url, rawAt);
  try {
    await rawAt.subscriber.nack({ subscription, deliveryIds: [deliveryId] });
    return undefined;
  } catch (error) {
    const cebus = toCebusError(error, url);
    return `${cebus.code}: ${cebus.message}`;
  }
}
