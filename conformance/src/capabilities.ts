import type { Capability, ConformanceCase } from "./case.js";
import type { BrokerTarget } from "./target.js";

/**
 * What a target lacking a capability reports for a case that needs it, in the order they are checked: a case
 * missing several is reported with the first.
 */
export const missingReasons: Readonly<Record<Capability, string>> = {
  "broker-control": "needs to control the broker process (not possible with --broker URL)",
  "backend-server": "kills the backend server: only for backends the runner starts (redis, postgres, nats)",
  "durable-store": "restarts the broker: needs a durable store",
  "browser-client": "needs a client under test that runs in a browser (--client browser)",
};

/**
 * What a column (a broker target and a client under test) can do: `broker-control` when the runner started the
 * brokers (not --broker URL), `backend-server` when it started the backend server too (redis, postgres, nats),
 * `durable-store` when the brokers keep their data across a restart (every store but memory), `browser-client` when
 * the client under test runs in a browser.
 */
export function targetCapabilities(
  target: Pick<BrokerTarget, "controllable" | "backendServer" | "durable">,
  client: string,
): ReadonlySet<Capability> {
  const has: [Capability, boolean][] = [
    ["broker-control", target.controllable],
    ["backend-server", target.backendServer !== undefined],
    ["durable-store", target.durable],
    ["browser-client", client === "browser"],
  ];
  return new Set(has.filter(([, yes]) => yes).map(([capability]) => capability));
}

/** Why the target cannot run the case (its first need the target lacks), or undefined when it can. */
export function skipReason(c: ConformanceCase, has: ReadonlySet<Capability>): string | undefined {
  const missing = (Object.keys(missingReasons) as Capability[]).find(
    (k) => c.needs.includes(k) && !has.has(k),
  );
  return missing === undefined ? undefined : missingReasons[missing];
}

/** A case of the run, and why it is skipped when the target cannot run it. */
export interface PlannedCase {
  c: ConformanceCase;
  skip?: string;
}

/** The case library filtered for a target before anything runs: every case in order, each skip with its reason. */
export function planCases(cases: readonly ConformanceCase[], has: ReadonlySet<Capability>): PlannedCase[] {
  return cases.map((c) => {
    const skip = skipReason(c, has);
    return skip === undefined ? { c } : { c, skip };
  });
}
