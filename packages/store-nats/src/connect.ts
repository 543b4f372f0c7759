import { CebusError } from "@cebus/core";
import type { Store } from "@cebus/store";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { createNatsStore } from "./nats-store.js";

export interface NatsConnectOptions {
  /** Give up connecting after this long [5 s]. */
  connectTimeoutMs?: number;
  namespace?: string;
}

/** The URL for logs: the password or token replaced by ***. */
export const redactUrl = (url: string) =>
  url.replace(/\/\/([^:@/]*):([^@/]+)@/, "//$1:***@").replace(/\/\/([^:@/]+)@/, "//***@");

/**
 * Connects to `nats://[user:password@|token@]host:port[,host:port...]`, checks that JetStream is enabled for the
 * account and that it may create streams, and returns the store. Any problem is a CebusError whose one-line
 * message names the URL and the cause; nothing is created before the checks pass.
 */
export async function openNatsStore(url: string, options: NatsConnectOptions = {}): Promise<Store> {
  const shown = redactUrl(url);
  const fail = (cause: string) => new CebusError("unavailable", `cannot use NATS at ${shown}: ${cause}`);
  const servers = url.split(",").map((s) => (s.includes("://") ? s : `nats://${s}`));
  const parsed = new URL(servers[0] as string);
  const credentials =
    parsed.username && parsed.password
      ? { user: decodeURIComponent(parsed.username), pass: decodeURIComponent(parsed.password) }
      : parsed.username
        ? { token: decodeURIComponent(parsed.username) }
        : {};
  let nc: Awaited<ReturnType<typeof connect>>;
  try {
    nc = await connect({
      servers: servers.map((s) => {
        const u = new URL(s);
        return `${u.hostname}:${u.port || 4222}`;
      }),
      ...credentials,
      name: "cebus-broker",
      timeout: options.connectTimeoutMs ?? 5000,
      noAsyncTraces: true, // the default records a stack per request: about 1.7x slower publishes
      maxReconnectAttempts: -1, // reconnect forever; while away, operations fail as unavailable
      reconnectTimeWait: 250,
      waitOnFirstConnect: false,
    });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (/authorization|authentication/i.test(message))
      throw fail(`authentication failed (${message}); check the user and password or token in the URL`);
    throw fail(`${message}; is nats-server running there?`);
  }
  try {
    const jsm = await jetstreamManager(nc, { timeout: options.connectTimeoutMs ?? 5000 });
    const info = await jsm.getAccountInfo();
    if (info.limits.max_streams === 0)
      throw fail(
        "this account may not create JetStream streams (max_streams is 0); raise its JetStream limits",
      );
    return await createNatsStore({
      nc,
      js: jetstream(nc, { timeout: 5000 }),
      jsm,
      namespace: options.namespace,
      description: shown,
    });
  } catch (error) {
    await nc.close().catch(() => {});
    if (error instanceof CebusError) throw error;
    const message = error instanceof Error ? error.message : String(error);
    if (/jetstream (is )?not enabled|no responders|503/i.test(message))
      throw fail(
        `JetStream is not enabled on this server or account; start nats-server with -js (${message})`,
      );
    if (/permission|authorization/i.test(message))
      throw fail(`permission denied (${message}); the user needs publish rights on $JS.API.> and $KV.>`);
    throw fail(message);
  }
}
