import type { Step } from "./case.js";
import type { History } from "./history.js";
import type { FaultProxy } from "./proxy.js";
import type { BrokerTarget } from "./target.js";

type KillAtAck = Extract<Step, { killAtPublishAck: unknown }>["killAtPublishAck"];

/** Listeners called synchronously when the runner records a publish that returned OK. */
export interface PublishAcks {
  on(listener: () => void): () => void;
  notify(): void;
}

export function createPublishAcks(): PublishAcks {
  const listeners = new Set<() => void>();
  return {
    on(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    notify() {
      for (const listener of [...listeners]) listener();
    },
  };
}

export interface KillAtAckDeps {
  history: History;
  target: BrokerTarget;
  /**
   * Where the acks are seen: the proxy between client and broker (the broker has sent its response; the kill lands
   * before the client has it), else the runner's record of an OK publish (a few ms later: client, adapter, pipe).
   */
  acks: PublishAcks | FaultProxy;
  /** Restarts the broker and points the clients at it again (the runner's `fault: { broker: restart }`). */
  restart(): Promise<void>;
}

/**
 * Waits for the next acknowledged publish and sends SIGKILL in the same tick the runner records it, so the kill
 * lands within about a millisecond of the broker's ack: a broker that acks before its write is durable loses
 * that publish. Resolves once the broker process is gone.
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
    const acks = deps.acks;
    const off = ("onResponseSent" in acks ? acks.onResponseSent : acks.on)(() => {
      off();
      clearTimeout(timer);
      const killed = deps.target.kill("SIGKILL"); // the signal is sent before this call returns
      deps.history.add({
        op: "fault",
        at: deps.history.now(),
        fault: `broker killed (SIGKILL) at a publish ack (${"onResponseSent" in acks ? "its response sent" : "the OK recorded"}), ${round}`,
        kind: "broker-kill",
      });
      killed.then(resolve, reject);
    });
  });
}

/** kill -9 the broker at `times` publish acks, restarting it after each. */
export async function killAtPublishAck(step: KillAtAck, deps: KillAtAckDeps): Promise<void> {
  for (let round = 1; round <= step.times; round++) {
    await killAtNextAck(deps, round, step.timeoutMs ?? 20_000);
    await deps.restart();
  }
}
