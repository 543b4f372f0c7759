import { randomBytes } from "node:crypto";
import { CebusError } from "@cebus/core";
import type { StoreChange } from "@cebus/store";
import type { PartitionDeliveryState } from "@cebus/store/delivery";
import type { Cluster, Redis } from "ioredis";
import { createKeys, type Keys } from "./redis-keys.js";
import * as scripts from "./scripts.js";

/** What every part of the Redis store works with: the connection, the key layout and the scripts. */
export interface RedisContext {
  readonly redis: Redis | Cluster;
  readonly keys: Keys;
  /** Tells every broker process over this Redis (this one included) that something became deliverable. */
  announce(change: StoreChange): void;
  /** Decoded delivery states by key, with the version they were decoded from (redis-delivery.ts). */
  readonly decoded: Map<string, { version: string; state: PartitionDeliveryState }>;
  /** A version no other write of any store instance uses. */
  nextVersion(): string;
  /** The operations holding each state key in this instance, last comer last (optimistic.ts). */
  readonly holders: Map<string, Promise<void>>;
}

export type ScriptName = "append" | "commit" | "createTopic" | "trim" | "offsetForTime";

type Arg = string | number | Buffer;
type ScriptCommands = Record<string, (numberOfKeys: number, ...args: Arg[]) => Promise<unknown>>;

export function createContext(redis: Redis | Cluster, namespace: string): RedisContext {
  for (const [name, lua] of Object.entries(scripts)) {
    redis.defineCommand(name.replace(/Script$/, ""), { lua });
  }
  const keys = createKeys(namespace);
  const instance = randomBytes(6).toString("base64url");
  let written = 0;
  return {
    redis,
    keys,
    announce: (change) => {
      redis.publish(keys.channel, JSON.stringify(change)).catch(() => {}); // best effort: consumers also poll
    },
    decoded: new Map(),
    nextVersion: () => `${instance}.${++written}`,
    holders: new Map(),
  };
}

/** Runs one of scripts.ts, replies as Buffers; a failure becomes a CebusError (translate). */
export async function runScript<T>(context: RedisContext, name: ScriptName, keys: string[], args: Arg[]) {
  const command = (context.redis as unknown as ScriptCommands)[`${name}Buffer`];
  if (!command) throw new Error(`script ${name} is not defined`);
  try {
    return (await command.call(context.redis, keys.length, ...keys, ...args)) as T;
  } catch (error) {
    throw translate(error);
  }
}

export const toBuffer = (data: Uint8Array) => Buffer.from(data.buffer, data.byteOffset, data.byteLength);
export const num = (value: unknown) => Number(Buffer.isBuffer(value) ? value.toString() : value);

export function topicMissing(name: string): CebusError {
  return new CebusError("not_found", `topic '${name}' does not exist; create it first`, { field: "topic" });
}

export function subscriptionMissing(name: string): CebusError {
  return new CebusError("not_found", `subscription '${name}' does not exist; create it first`, {
    field: "subscription",
  });
}

/** A Redis failure as a CebusError: a script's own errors by meaning, anything else `unavailable` (retry). */
export function translate(error: unknown): Error {
  if (error instanceof CebusError) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (message.includes("NOTOPIC")) return topicMissing("?");
  const partition = /PARTITION (\d+) (\d+) (\d+)/.exec(message);
  if (partition) {
    return new CebusError(
      "invalid_argument",
      `events[${partition[1]}] targets partition ${partition[2]} but the topic has ${partition[3]}`,
    );
  }
  return new CebusError("unavailable", `redis: ${message}; the broker retries when Redis is back`, {
    cause: error,
  });
}
