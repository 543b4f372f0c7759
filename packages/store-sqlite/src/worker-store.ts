import { Worker } from "node:worker_threads";
import { CebusError } from "@cebus/core";
import type { ClaimRequest, ClaimResult, Store } from "@cebus/store";
import type { SqliteStoreOptions } from "./sqlite-store.js";
import {
  type Call,
  type Opened,
  type Reply,
  receiveClaim,
  receiveError,
  type SentClaim,
} from "./worker-protocol.js";

/**
 * The embedded store on its own thread: the same store (createSqliteStore) runs in a `worker_threads` worker, and
 * this side forwards each Store call to it and settles the call with its answer. SQLite's statements, the delivery
 * rules and the commits then use the second core instead of the broker's event loop (the fsyncs already ran on the
 * thread pool). Calls keep their order; a worker that stops fails every call waiting and every later one, and the
 * store reports itself unhealthy (the broker's /readyz says not ready).
 */

interface Pending {
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

interface Channel {
  readonly worker: Worker;
  readonly pending: Map<number, Pending>;
  nextId: number;
  stopped: CebusError | undefined;
}

/** The worker's script: beside this file when built; from the sources (vitest), the built one. */
function workerScript(): URL {
  const here = import.meta.url;
  return here.endsWith(".ts")
    ? new URL("../dist/sqlite-worker.js", here)
    : new URL("./sqlite-worker.js", here);
}

/** Opens the embedded store in a worker thread; rejects as createSqliteStore throws (held lock, corrupt file…). */
export async function openSqliteStoreInWorker(options: SqliteStoreOptions): Promise<Store> {
  // Not the process's flags: a preload given with --import or --require is the broker's, not the store's.
  const worker = new Worker(workerScript(), { workerData: options, execArgv: [] });
  await opened(worker);
  const channel: Channel = { worker, pending: new Map(), nextId: 1, stopped: undefined };
  worker.on("message", (reply: Reply) => answer(channel, reply));
  worker.on("error", (error) => stop(channel, error.message));
  worker.on("exit", (code) => stop(channel, `it exited with code ${code}`));
  return proxy(channel, options);
}

function opened(worker: Worker): Promise<void> {
  return new Promise((resolve, reject) => {
    const fail = (error: Error) => reject(error);
    worker.once("error", fail);
    worker.once("message", (message: Opened) => {
      worker.off("error", fail);
      if (message.opened) resolve();
      else {
        void worker.terminate();
        reject(receiveError(message.error));
      }
    });
  });
}

function answer(channel: Channel, reply: Reply): void {
  const pending = channel.pending.get(reply.id);
  if (!pending) return;
  channel.pending.delete(reply.id);
  if ("error" in reply) pending.reject(receiveError(reply.error));
  else pending.resolve(reply.result);
}

function stop(channel: Channel, reason: string): void {
  channel.stopped ??= new CebusError(
    "unavailable",
    `the embedded store's worker thread stopped (${reason}); restart the broker`,
  );
  for (const pending of channel.pending.values()) pending.reject(channel.stopped);
  channel.pending.clear();
}

function call<T>(channel: Channel, method: string, args: unknown[]): Promise<T> {
  if (channel.stopped) return Promise.reject(channel.stopped);
  const id = channel.nextId++;
  return new Promise<T>((resolve, reject) => {
    channel.pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
    channel.worker.postMessage({ id, method, args } satisfies Call);
  });
}

function proxy(channel: Channel, options: SqliteStoreOptions): Store {
  const forward =
    <K extends keyof Store>(method: K) =>
    (...args: unknown[]) =>
      call(channel, method, args);
  return {
    description: options.path === ":memory:" ? "sqlite::memory:" : `sqlite:${options.path}`,
    createTopic: forward("createTopic"),
    getTopic: forward("getTopic"),
    listTopics: forward("listTopics"),
    deleteTopic: forward("deleteTopic"),
    partitionStats: forward("partitionStats"),
    offsetForTime: forward("offsetForTime"),
    append: forward("append"),
    read: forward("read"),
    createSubscription: forward("createSubscription"),
    getSubscription: forward("getSubscription"),
    listSubscriptions: forward("listSubscriptions"),
    deleteSubscription: forward("deleteSubscription"),
    seek: forward("seek"),
    claim: async (request: ClaimRequest): Promise<ClaimResult> =>
      receiveClaim(await call<SentClaim>(channel, "claim", [request])),
    settle: forward("settle"),
    subscriptionStats: forward("subscriptionStats"),
    requeue: forward("requeue"),
    trim: forward("trim"),
    healthy: () => channel.stopped === undefined,
    close: async () => {
      if (!channel.stopped) await call(channel, "close", []);
      channel.stopped ??= new CebusError("unavailable", "the embedded store is closed");
      await channel.worker.terminate();
    },
  } as Store;
}
