import { type BrokerProcess, startBroker } from "@cebus/testing";

/** The broker under test: one the runner starts and controls (faults possible), or any running broker by URL. */
export interface BrokerTarget {
  readonly url: string;
  readonly controllable: boolean;
  readonly description: string;
  kill(signal: NodeJS.Signals): Promise<void>;
  restart(): Promise<void>;
  pause(): void;
  resume(): void;
  close(): Promise<void>;
}

export async function startManagedBroker(backend: string): Promise<BrokerTarget> {
  if (backend !== "sqlite" && backend !== "memory") {
    throw new Error(
      `backend '${backend}' is not available in this build; use sqlite or memory, or --broker URL`,
    );
  }
  const broker: BrokerProcess = await startBroker({
    store: backend === "memory" ? "memory" : "sqlite",
    args: ["--retention-interval", "250ms"],
  });
  return {
    get url() {
      return broker.url;
    },
    controllable: true,
    description: `cebus serve --store ${backend} (pid ${broker.pid})`,
    kill: (signal) => broker.kill(signal),
    restart: () => broker.restart(),
    pause: () => broker.pause(),
    resume: () => broker.resume(),
    close: async () => {
      await broker[Symbol.asyncDispose]();
    },
  };
}

export function externalBroker(url: string): BrokerTarget {
  const refuse = () => {
    throw new Error("this case needs to control the broker process; it cannot run with --broker URL");
  };
  return {
    url,
    controllable: false,
    description: `external broker at ${url}`,
    kill: async () => refuse(),
    restart: async () => refuse(),
    pause: refuse,
    resume: refuse,
    close: async () => {},
  };
}
