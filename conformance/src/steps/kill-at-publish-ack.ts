import type { StepOf } from "../case.js";
import type { CaseRun } from "../case-context.js";
import type { History } from "../history.js";
import type { FaultProxy } from "../proxy.js";
import type { BrokerTarget } from "../target.js";
import { faultStep } from "./fault.js";

type KillAtAck = StepOf<"killAtPublishAck">;

interface KillAtAckDeps {
  history: History;
  target: BrokerTarget;
  /** The proxy the case runs through: it sees the broker's responses before the client does. */
  proxy: FaultProxy;
  /** Restarts the broker and points the clients at it again (the runner's `fault: { broker: restart }`). */
  restart(): Promise<void>;
}

/**
 * Waits for the broker's next response (in this case, the ack of a publish: nothing else is asked of it) and sends
 * SIGKILL from the proxy before the bytes go on to the client, a few hundred microseconds after they left the
 * broker on an idle machine: a broker that acks before its write is durable loses a publish the client then sees
 * acknowledged. Resolves once the broker process is gone.
 */
function killAtNextAck(deps: KillAtAckDeps, round: number, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(
        new Error(
          `killAtPublishAck: no publish was acknowledged within ${timeoutMs} ms before kill ${round}; run a background publish (with stopAtMark) across this step`,
        ),
      );
    }, timeoutMs);
    const off = deps.proxy.onResponseSent(() => {
      off();
      clearTimeout(timer);
      const killed = deps.target.kill("SIGKILL"); // the signal is sent before this call returns
      deps.history.add({
        op: "fault",
        at: deps.history.now(),
        fault: `broker killed (SIGKILL) as its response to a publish left it, ${round}`,
        kind: "broker-kill",
      });
      killed.then(resolve, reject);
    });
  });
}

/**
 * `killAtPublishAck`: through the case's proxy, kill -9 the broker at `times` publish acks, restarting it after each
 * (as the step `fault: { broker: restart }` does).
 */
export async function killAtPublishAckStep(run: CaseRun, step: KillAtAck): Promise<void> {
  const { proxy } = run;
  if (!proxy) throw new Error("killAtPublishAck needs the case to run through the proxy");
  await killAtPublishAck(step, {
    history: run.history,
    target: run.env.target,
    proxy,
    restart: () => faultStep(run, { broker: "restart" }),
  });
}

/** kill -9 the broker at `times` publish acks, restarting it after each. */
async function killAtPublishAck(step: KillAtAck, deps: KillAtAckDeps): Promise<void> {
  for (let round = 1; round <= step.times; round++) {
    await killAtNextAck(deps, round, step.timeoutMs ?? 20_000);
    await deps.restart();
  }
}
