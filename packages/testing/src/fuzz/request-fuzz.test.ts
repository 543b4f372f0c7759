import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { startBroker } from "../broker-process.js";
import { seedBrokerState, snapshotBrokerState } from "./broker-state.js";
import { type FuzzCase, httpCases, rpcCases } from "./malformed-requests.js";
import { createRawHttpClient, type RawHttpClient } from "./raw-http.js";
import { httpPaths, protocolShapes, type RpcRoute, rpcRoutes } from "./routes.js";
import { type Outcome, rpcOutcome } from "./wire.js";

/** Requests in flight at once: RPC calls and plain HTTP requests per batch. */
const rpcPerBatch = 14;
const httpPerBatch = 2;
/** 715 batches: 10,010 malformed RPC calls and 1,430 HTTP requests a run. */
const batches = 715;
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

/** What came of one request: the code of its answer, and what is wrong with it, if anything. */
interface Checked {
  code: string;
  problem: string | undefined;
}

/** Sends one request and says what is wrong with its answer, if anything. */
async function check(client: RawHttpClient, fuzzCase: FuzzCase): Promise<Checked> {
  const result = await client.send(fuzzCase.request, fuzzCase.http2);
  if (!result.ok)
    return { code: "no answer", problem: describeCase(fuzzCase, `no answer (${result.reason})`) };
  const outcome = fuzzCase.rpc
    ? rpcOutcome(fuzzCase.rpc.shape, fuzzCase.rpc.route.method, result.response)
    : { status: result.response.status, code: `http_${result.response.status}`, message: "" };
  const problem = fault(fuzzCase, outcome);
  return { code: outcome.code, problem: problem && describeCase(fuzzCase, problem, outcome) };
}

function withLabel(arbitrary: fc.Arbitrary<FuzzCase>): fc.Arbitrary<FuzzCase> {
  return arbitrary.map((c) => Object.assign(c, { [fc.toStringMethod]: () => `${c.label} (${c.kind})` }));
}

function count(counts: Map<string, number>, key: string): void {
  counts.set(key, (counts.get(key) ?? 0) + 1);
}

/** Runs the batches against the broker; throws fast-check's report (with the seed) at the first wrong answer. */
async function runFuzz(
  url: string,
  routes: RpcRoute[],
): Promise<{ perLabel: Map<string, number>; perCode: Map<string, number> }> {
  const batch = fc.tuple(
    fc.array(withLabel(rpcCases(routes)), { minLength: rpcPerBatch, maxLength: rpcPerBatch }),
    fc.array(withLabel(httpCases(routes)), { minLength: httpPerBatch, maxLength: httpPerBatch }),
  );
  const client = createRawHttpClient(url, rpcPerBatch + httpPerBatch);
  const perLabel = new Map<string, number>();
  const perCode = new Map<string, number>();
  try {
    await fc.assert(
      fc.asyncProperty(batch, async ([rpc, http]) => {
        const cases = [...rpc, ...http];
        const checked = await Promise.all(cases.map((fuzzCase) => check(client, fuzzCase)));
        for (const fuzzCase of cases) count(perLabel, fuzzCase.label);
        for (const { code } of checked) count(perCode, code);
        const found = checked.flatMap((c) => (c.problem === undefined ? [] : [c.problem]));
        if (found.length > 0) throw new Error(`${found.length} wrong answer(s):\n${found.join("\n")}`);
      }),
      { seed, numRuns: batches, endOnFailure: true },
    );
  } finally {
    client.close();
    console.log(`request fuzz: requests per route and shape\n${countsTable(perLabel)}`);
    console.log(`request fuzz: answers per code\n${countsTable(perCode)}`);
  }
  return { perLabel, perCode };
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
    console.log(`request fuzz: seed ${seed} (CEBUS_FUZZ_SEED=${seed} replays this run)`);

    const { perLabel } = await runFuzz(broker.url, routes);

    expect(broker.output()).not.toMatch(/unexpected error in a handler|handler for rpc .* failed/);
    expect((await fetch(`${broker.url}/healthz`)).status).toBe(200);
    expect(await snapshotBrokerState(broker.url)).toEqual(before);
    const rpcLabels = routes.flatMap((route) => protocolShapes.map((shape) => `${route.path} ${shape}`));
    const rpcCalls = rpcLabels.reduce((sum, label) => sum + (perLabel.get(label) ?? 0), 0);
    expect(rpcCalls).toBe(rpcPerBatch * batches);
    const httpLabels = [
      ...httpPaths.map((path) => `http ${path}`),
      "http unknown path",
      "http rpc path, wrong method",
    ];
    expect([...rpcLabels, ...httpLabels].filter((label) => !perLabel.has(label))).toEqual([]);
  }, 600_000);
});
