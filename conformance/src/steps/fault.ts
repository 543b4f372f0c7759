import type { ProxyFault, StepOf } from "../case.js";
import { reconnectClients, startClient } from "../case-clients.js";
import type { CaseRun } from "../case-context.js";
import { faultKindOf } from "../excuses.js";

type Fault = StepOf<"fault">;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * `fault`: recorded first (with its kind, for the excuse table, and the client it kills), then done to the broker
 * process, the backend server, a client process or the proxy. A pause with `forMs` resumes by itself after that.
 */
export async function faultStep(run: CaseRun, f: Fault): Promise<void> {
  const { history } = run;
  const killed = f.client && (f.clientFault === "kill" || f.clientFault === "restart") ? f.client : undefined;
  const kind = faultKindOf(f);
  history.add({
    op: "fault",
    at: history.now(),
    fault: JSON.stringify(f),
    ...(killed ? { killed } : {}),
    ...(kind ? { kind } : {}),
  });
  await brokerFault(run, f.broker);
  if (f.backend === "kill") await run.env.target.backendServer?.kill();
  if (f.backend === "restart") await run.env.target.backendServer?.restart();
  if (f.client && f.clientFault === "kill") await run.clients.get(f.client)?.kill();
  if (f.client && f.clientFault === "restart") {
    await run.clients.get(f.client)?.kill();
    await startClient(run, f.client);
  }
  if (f.proxy) proxyFault(run, f.proxy, f.forMs);
  if (f.forMs && f.broker === "pause") {
    await sleep(f.forMs);
    run.env.target.resume();
    history.add({ op: "fault", at: history.now(), fault: "broker resumed" });
  }
}

/** kill -9, SIGTERM, pause, resume or restart the broker; after a restart the clients follow it. */
async function brokerFault(run: CaseRun, broker: Fault["broker"]): Promise<void> {
  const { target } = run.env;
  if (broker === "kill") await target.kill("SIGKILL");
  else if (broker === "term") await target.kill("SIGTERM");
  else if (broker === "pause") target.pause();
  else if (broker === "resume") target.resume();
  else if (broker === "restart") {
    const previousUrl = target.url;
    await target.restart();
    await reconnectClients(run, previousUrl);
  }
}

/** A network fault in the proxy; `heal` ends them all and resets the connections that saw bytes dropped. */
function proxyFault(run: CaseRun, fault: ProxyFault, forMs: number | undefined): void {
  const { proxy } = run;
  if (!proxy) throw new Error("proxy faults need the case to run through the proxy");
  if (fault === "reset") proxy.reset();
  else if (fault === "blackhole") proxy.blackhole(true);
  else if (fault === "swallow-responses") proxy.swallowResponses(true);
  else if (fault === "latency") proxy.latency(forMs ?? 50);
  else if (fault === "heal") {
    proxy.blackhole(false);
    proxy.swallowResponses(false);
    proxy.latency(0);
    proxy.reset(); // bytes were dropped mid-stream: those connections cannot be trusted, clients reconnect
  }
}
