import { parentPort, workerData } from "node:worker_threads";
import { toBinary } from "@bufbuild/protobuf";
import { type Filter, FilterSchema } from "@cebus/proto";
import type { ClaimRequest, Store } from "@cebus/store";
import { createSqliteStore, type SqliteStoreOptions } from "./sqlite-store.js";
import { type Call, type Opened, type Reply, sendClaim, sendError } from "./worker-protocol.js";

/**
 * The embedded store's worker thread (see worker-store.ts): opens the store, then runs each call it receives and
 * answers it. Calls run as they arrive, so the store's group commit gathers them as it does in one thread.
 */

const port = parentPort;
if (!port) throw new Error("sqlite-worker.js runs as a worker thread of openSqliteStoreInWorker");

/** A claim's filter arrives as a new object each time; the same filter as before is given back as that object. */
const filters = new Map<string, { bytes: string; filter: Filter }>();

function sameFilter(request: ClaimRequest): ClaimRequest {
  if (!request.filter) return request;
  const bytes = Buffer.from(toBinary(FilterSchema, request.filter)).toString("latin1");
  const known = filters.get(request.subscription);
  if (known?.bytes === bytes) return { ...request, filter: known.filter };
  filters.set(request.subscription, { bytes, filter: request.filter });
  return request;
}

async function run(store: Store, call: Call): Promise<unknown> {
  if (call.method === "claim") return sendClaim(await store.claim(sameFilter(call.args[0] as ClaimRequest)));
  const method = store[call.method as keyof Store] as (...args: unknown[]) => Promise<unknown>;
  return method.apply(store, call.args);
}

function serve(store: Store): void {
  (port as NonNullable<typeof port>).on("message", (call: Call) => {
    run(store, call).then(
      (result) => port?.postMessage({ id: call.id, result } satisfies Reply),
      (error: unknown) => port?.postMessage({ id: call.id, error: sendError(error) } satisfies Reply),
    );
  });
}

let store: Store | undefined;
try {
  store = createSqliteStore(workerData as SqliteStoreOptions);
} catch (error) {
  port.postMessage({ opened: false, error: sendError(error) } satisfies Opened);
}
if (store) {
  serve(store);
  port.postMessage({ opened: true } satisfies Opened);
}
