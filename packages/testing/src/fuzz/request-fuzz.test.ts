import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { startBroker } from "../broker-process.js";
import { seedBrokerState, snapshotBrokerState } from "./broker-state.js";
import { type FuzzCase, httpCases, rpcCases } from "./malformed-requests.js";
import { createRawHttpClient, type RawHttpClient } from "./raw-http.js";
import { httpPaths, protocolShapes, rpcRoutes } from "./routes.js";
import { type Outcome, rpcOutcome } from "./wire.js";

/** Requests in flight at once; a run is this many times `batches`. */
const concurrency = 16;
const batches = 625;
/** CEBUS_FUZZ_SEED=<seed> replays a run (the seed is printed at the start and in a failure's report). */
const seed = Number(process.env.CEBUS_FUZZ_SEED) || Math.floor(Math.random() * 2 ** 31);

/** Why an answer to a malformed request is wrong, or undefined when it is fine. */
function fault(fuzzCase: FuzzCase, outcome: Outcome): string | undefined {
  if (outcome.status >= 500) return `HTTP ${outcome.status}`;
  if (outcome.code === "internal" || outcome.code === "unknown") return `code ${outcome.code}`;
  if (outcome.message.startsWith("parse binary")) return "a raw parse error (the message type is not named)";
  if (fuzzCase.rpc && outcome.code === "ok") return "accepted, though it is malformed";
  if (
    outcome.code === "no_end_stream" ||
    outcome.code === "no_grpc_status" ||
    outcome.code === "bad_end_stream"
  ) {
    return "no status at the end of the stream";
  }
  return undefined;
}

function describeCase(fuzzCase: FuzzCase, problem: string, outcome?: Outcome): string {
  const { request } = fuzzCase;
  return [
    `${fuzzCase.label} (${fuzzCase.kind}) over HTTP/${fuzzCase.http2 ? "2" : "1.1"}: ${problem}`,
    outcome ? `  answer: ${outcome.status} ${outcome.code} ${JSON.stringify(outcome.message)}` : "",
    `  ${request.method} ${request.path} ${JSON.stringify(request.headers)}`,
    `  body (${request.body.length} bytes): ${Buffer.from(request.body).toString("hex").slice(0, 400)}`,
  ]
    .filter(Boolean)
    .join("\n");
}

/** Sends one request and says what is wrong with its answer, if anything. */
async function check(client: RawHttpClient, fuzzCase: FuzzCase): Promise<string | undefined> {
  const result = await client.send(fuzzCase.request, fuzzCase.http2);
  if (!result.ok) return describeCase(fuzzCase, `no answer (${result.reason})`);
  const outcome = fuzzCase.rpc
    ? rpcOutcome(fuzzCase.rpc.shape, fuzzCase.rpc.route.method, result.response)
    : { status: result.response.status, code: `http_${result.response.status}`, message: "" };
  const problem = fault(fuzzCase, outcome);
  return problem === undefined ? undefined : describeCase(fuzzCase, problem, outcome);
}

function countsTable(counts: Map<string, number>): string {
  const rows = [...counts.entries()].sort(([a], [b]) => a.localeCompare(b));
  const total = rows.reduce((sum, [, n]) => sum + n, 0);
  return [
    ...rows.map(([label, n]) => `${String(n).padStart(6)}  ${label}`),
    `${String(total).padStart(6)}  in all`,
  ].join("\n");
}

describe("request fuzz", () => {
  it("10,000 malformed requests over every RPC and HTTP route in every protocol shape: no crash, no internal or 5xx, no change of state", async () => {
    await using broker = await startBroker({ store: "memory" });
    await seedBrokerState(broker.url);
    const before = await snapshotBrokerState(broker.url);
    const routes = rpcRoutes();
    const cases = fc
      .oneof({ arbitrary: rpcCases(routes), weight: 9 }, { arbitrary: httpCases(routes), weight: 1 })
      .map((c) => Object.assign(c, { [fc.toStringMethod]: () => `${c.label} (${c.kind})` }));
    const client = createRawHttpClient(broker.url, concurrency);
    const counts = new Map<string, number>();
    console.log(`request fuzz: seed ${seed} (CEBUS_FUZZ_SEED=${seed} replays this run)`);
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.array(cases, { minLength: concurrency, maxLength: concurrency }),
          async (batch) => {
            const problems = await Promise.all(batch.map((fuzzCase) => check(client, fuzzCase)));
            for (const fuzzCase of batch) counts.set(fuzzCase.label, (counts.get(fuzzCase.label) ?? 0) + 1);
            const found = problems.filter((p) => p !== undefined);
            if (found.length > 0) throw new Error(`${found.length} wrong answer(s):\n${found.join("\n")}`);
          },
        ),
        { seed, numRuns: batches, endOnFailure: true },
      );
    } finally {
      client.close();
      console.log(`request fuzz: requests per route and shape\n${countsTable(counts)}`);
    }

    expect(broker.output()).not.toMatch(/unexpected error in a handler|handler for rpc .* failed/);
    expect((await fetch(`${broker.url}/healthz`)).status).toBe(200);
    expect(await snapshotBrokerState(broker.url)).toEqual(before);
    expect([...counts.values()].reduce((a, b) => a + b, 0)).toBe(concurrency * batches);
    const unvisited = [
      ...routes.flatMap((route) => protocolShapes.map((shape) => `${route.path} ${shape}`)),
      ...httpPaths.map((path) => `http ${path}`),
      "http unknown path",
      "http rpc path, wrong method",
    ].filter((label) => !counts.has(label));
    expect(unvisited).toEqual([]);
  }, 600_000);
});
