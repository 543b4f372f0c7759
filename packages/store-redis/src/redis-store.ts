import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { CebusError } from "@cebus/core";
import { type Subscription, SubscriptionSchema, type Topic, TopicSchema } from "@cebus/proto";
import type {
  AppendEvent,
  AppendOptions,
  AppendResult,
  ClaimRequest,
  Lease,
  PartitionInfo,
  SettleAction,
  Store,
  StoreChange,
  StoredEvent,
  SubscriptionCounts,
  SubscriptionRef,
} from "@cebus/store";
import type { Cluster, Redis } from "ioredis";
import * as scripts from "./scripts.js";

export interface RedisStoreOptions {
  /** A connected ioredis client (standalone) or cluster. The store owns it and quits it on close. */
  redis: Redis | Cluster;
  /** Key namespace [cebus]; several Cebus installations can share one Redis under different namespaces. */
  namespace?: string;
  /** For logs, e.g. the URL without its password. */
  description?: string;
}

type Commands = {
  [K in keyof typeof scripts as K extends `${infer N}Script` ? N : never]: (
    key: string,
    ...args: (string | number | Buffer | Uint8Array)[]
  ) => Promise<unknown>;
};

/** Expired-lease backoff as a table the claim script can read: entry i is the delay after attempt i + 1. */
const DELAY_TABLE = 16;

const toBuffer = (data: Uint8Array) => Buffer.from(data.buffer, data.byteOffset, data.byteLength);
const num = (v: unknown) => Number(Buffer.isBuffer(v) ? v.toString() : v);

/**
 * The store on Redis: topic partitions are Redis Streams (the log), the dedupe window, cursors and leases are
 * hashes and sorted sets next to them, and every operation is one Lua script, so it is atomic across any number of
 * broker processes. Consumer groups and their pending lists are not used: leases need nack delays, per-key parking
 * for ordered delivery and token-checked settles, which the PEL cannot express.
 */
export function createRedisStore(options: RedisStoreOptions): Store {
  const redis = options.redis;
  const ns = options.namespace ?? "cebus";
  const topicsKey = `${ns}:topics`;
  const subsKey = `${ns}:subscriptions`;
  const base = (topic: string) => `${ns}:{${topic}}`;
  const channel = `${ns}:changes`;
  // Tells every broker process over this Redis (this one included) that something became deliverable.
  const announce = (change: StoreChange) => {
    redis.publish(channel, JSON.stringify(change)).catch(() => {}); // best effort: consumers also poll
  };
  let subscriber: Redis | Cluster | undefined;
  const listeners = new Set<(change: StoreChange) => void>();

  for (const [name, lua] of Object.entries(scripts)) {
    redis.defineCommand(name.replace(/Script$/, ""), { numberOfKeys: 1, lua });
  }
  const run = redis as unknown as Commands & { [k: string]: (...a: unknown[]) => Promise<unknown> };
  const call = async <T>(
    name: keyof Commands,
    key: string,
    args: (string | number | Buffer)[],
  ): Promise<T> => {
    try {
      return (await run[`${name}Buffer`]?.(key, ...args)) as T;
    } catch (error) {
      throw translate(error);
    }
  };

  const topicMissing = (name: string) =>
    new CebusError("not_found", `topic '${name}' does not exist; create it first`, { field: "topic" });
  function translate(error: unknown): Error {
    const message = error instanceof Error ? error.message : String(error);
    if (message.includes("NOTOPIC")) return topicMissing("?");
    if (message.includes("NOSUB"))
      return new CebusError("not_found", "subscription does not exist; create it first", {
        field: "subscription",
      });
    const partition = /PARTITION (\d+) (\d+) (\d+)/.exec(message);
    if (partition)
      return new CebusError(
        "invalid_argument",
        `events[${partition[1]}] targets partition ${partition[2]} but the topic has ${partition[3]}`,
      );
    return new CebusError("unavailable", `redis: ${message}; the broker retries when Redis is back`, {
      cause: error,
    });
  }

  async function partitionsOf(topic: string): Promise<number> {
    const n = await redis.hget(`${base(topic)}:m`, "n");
    if (n === null) throw topicMissing(topic);
    return Number(n);
  }

  async function subscriptionTopic(name: string): Promise<Subscription> {
    const raw = await redis.hgetBuffer(subsKey, name);
    if (!raw)
      throw new CebusError("not_found", `subscription '${name}' does not exist; create it first`, {
        field: "subscription",
      });
    return fromBinary(SubscriptionSchema, raw);
  }

  const store: Store = {
    description: options.description ?? "redis",

    async createTopic(topic: Topic) {
      const created = await redis.hsetnx(topicsKey, topic.name, toBuffer(toBinary(TopicSchema, topic)));
      if (created === 0) return false;
      await call("createTopic", base(topic.name), [Math.max(1, topic.partitions)]);
      return true;
    },

    async getTopic(name) {
      const raw = await redis.hgetBuffer(topicsKey, name);
      return raw ? fromBinary(TopicSchema, raw) : undefined;
    },

    async listTopics() {
      const all = await redis.hgetallBuffer(topicsKey);
      return Object.values(all)
        .map((raw) => fromBinary(TopicSchema, raw))
        .sort((a, b) => a.name.localeCompare(b.name));
    },

    async deleteTopic(name) {
      if ((await redis.hdel(topicsKey, name)) === 0) return false;
      const n = await redis.hget(`${base(name)}:m`, "n");
      const keys = [`${base(name)}:m`, `${base(name)}:d`, `${base(name)}:dt`];
      for (let p = 0; p < Number(n ?? 0); p++) keys.push(`${base(name)}:s${p}`);
      await redis.del(...keys);
      return true;
    },

    async partitionStats(topic) {
      const meta = await redis.hgetall(`${base(topic)}:m`);
      const n = Number(meta.n ?? 0);
      const out: PartitionInfo[] = [];
      for (let p = 0; p < n; p++) {
        out.push({
          partition: p,
          startOffset: Number(meta[`s${p}`] ?? 0),
          endOffset: Number(meta[`e${p}`] ?? 0),
          eventCount: Number(meta[`c${p}`] ?? 0),
          bytes: Number(meta[`b${p}`] ?? 0),
        });
      }
      return out;
    },

    async offsetForTime(topic, partition, time) {
      await partitionsOf(topic);
      return num(await call("offsetForTime", base(topic), [partition, time]));
    },

    async append(topic: string, events: AppendEvent[], opts: AppendOptions): Promise<AppendResult[]> {
      const args: (string | number | Buffer)[] = [
        opts.now,
        opts.dedupeSince,
        opts.dedupeSince <= opts.now ? 1 : 0,
        events.length,
      ];
      for (const e of events) {
        args.push(
          e.partition,
          `${e.source.length}:${e.source}${e.id}`,
          e.key === undefined ? 0 : 1,
          e.key ?? "",
          toBuffer(e.data),
        );
      }
      let flat: unknown[];
      try {
        flat = await call<unknown[]>("append", base(topic), args);
      } catch (error) {
        if (error instanceof CebusError && error.code === "not_found") throw topicMissing(topic);
        throw error;
      }
      const out: AppendResult[] = [];
      for (let i = 0; i < flat.length; i += 3) {
        out.push({ partition: num(flat[i]), offset: num(flat[i + 1]), duplicate: num(flat[i + 2]) === 1 });
      }
      if (out.some((r) => !r.duplicate)) announce({ topic });
      return out;
    },

    async read(topic, partition, fromOffset, limit) {
      const entries = (await redis.xrangeBuffer(
        `${base(topic)}:s${partition}`,
        `0-${fromOffset + 1}`,
        "+",
        "COUNT",
        limit,
      )) as [Buffer, Buffer[]][];
      return entries.map(([id, fields]): StoredEvent => {
        const f = new Map<string, Buffer>();
        for (let i = 0; i < fields.length; i += 2)
          f.set((fields[i] as Buffer).toString(), fields[i + 1] as Buffer);
        return {
          partition,
          offset: Number(id.toString().slice(2)) - 1,
          publishTime: Number(f.get("t")?.toString()),
          key: f.get("k")?.toString(),
          data: new Uint8Array(f.get("d") ?? Buffer.alloc(0)),
        };
      });
    },

    async createSubscription(subscription: Subscription, cursors: number[]) {
      const created = await redis.hsetnx(
        subsKey,
        subscription.name,
        toBuffer(toBinary(SubscriptionSchema, subscription)),
      );
      if (created === 0) return false;
      await call("createCursors", base(subscription.topic), [subscription.name, cursors.length, ...cursors]);
      return true;
    },

    async getSubscription(name) {
      const raw = await redis.hgetBuffer(subsKey, name);
      return raw ? fromBinary(SubscriptionSchema, raw) : undefined;
    },

    async listSubscriptions(topic) {
      const all = Object.values(await redis.hgetallBuffer(subsKey)).map((raw) =>
        fromBinary(SubscriptionSchema, raw),
      );
      return all
        .filter((s) => topic === undefined || s.topic === topic)
        .sort((a, b) => a.name.localeCompare(b.name));
    },

    async deleteSubscription(name) {
      const raw = await redis.hgetBuffer(subsKey, name);
      if (!raw) return false;
      const sub = fromBinary(SubscriptionSchema, raw);
      const n = await redis.hget(`${base(sub.topic)}:m`, "n");
      await call("deleteSubscription", base(sub.topic), [name, Number(n ?? 0)]);
      await redis.hdel(subsKey, name);
      return true;
    },

    async seek({ subscription }, cursors) {
      const sub = await subscriptionTopic(subscription);
      await call("seek", base(sub.topic), [subscription, cursors.length, ...cursors]);
      announce({ topic: sub.topic, subscription });
    },

    async claim(request: ClaimRequest): Promise<Lease[]> {
      if (request.max <= 0) return [];
      const delays: number[] = [];
      // one delay per attempt (the script has no per-offset jitter yet): the rules' delay for offset 0, inside
      // the attempt's band; the consumer also wakes at the band end until redis is on the rules
      if (request.expiryDelayMs)
        for (let a = 1; a <= DELAY_TABLE; a++) delays.push(Math.round(request.expiryDelayMs(a, 0)));
      const flat = await call<unknown[]>("claim", base(request.topic), [
        request.subscription,
        request.partition,
        request.max,
        request.maxBytes,
        request.now,
        request.leaseMs,
        request.token,
        request.autoAck ? 1 : 0,
        request.ordered ? 1 : 0,
        delays.length,
        ...delays,
      ]);
      const leases: Lease[] = [];
      const deadline = request.autoAck ? 0 : request.now + request.leaseMs;
      for (let i = 0; i < flat.length; i += 6) {
        const data = flat[i + 5] as Buffer;
        leases.push({
          event: {
            partition: request.partition,
            offset: num(flat[i]),
            publishTime: num(flat[i + 2]),
            key: num(flat[i + 3]) === 1 ? (flat[i + 4] as Buffer).toString() : undefined,
            data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
          },
          attempt: num(flat[i + 1]),
          token: request.token,
          deadline,
        });
      }
      return leases;
    },

    async settle({ subscription }: SubscriptionRef, action: SettleAction): Promise<boolean[]> {
      if (action.leases.length === 0) return [];
      const sub = await subscriptionTopic(subscription);
      const args: (string | number)[] = [
        subscription,
        action.kind,
        action.now,
        action.until ?? action.now,
        action.allOrNothing ? 1 : 0,
        action.leases.length,
      ];
      for (const l of action.leases) args.push(l.partition, l.offset, l.token);
      const flat = await call<unknown[]>("settle", base(sub.topic), args);
      const matched = flat.map((v) => num(v) === 1);
      if (action.kind === "nack" && matched.some(Boolean)) {
        announce({ topic: sub.topic, subscription, at: action.until ?? action.now });
      }
      return matched;
    },

    async subscriptionStats(subscription, now): Promise<SubscriptionCounts> {
      const raw = await redis.hgetBuffer(subsKey, subscription);
      if (!raw) return { backlog: 0, inFlight: 0, oldestUnackedPublishTime: undefined };
      const sub = fromBinary(SubscriptionSchema, raw);
      const n = Number((await redis.hget(`${base(sub.topic)}:m`, "n")) ?? 0);
      const [backlog, inFlight, oldest] = (
        await call<unknown[]>("stats", base(sub.topic), [subscription, n, now])
      ).map(num);
      return {
        backlog: backlog as number,
        inFlight: inFlight as number,
        oldestUnackedPublishTime: (oldest as number) < 0 ? undefined : oldest,
      };
    },

    async requeue({ subscription }, events, now) {
      const sub = await subscriptionTopic(subscription);
      const args: (string | number)[] = [subscription, now, events.length];
      for (const e of events) args.push(e.partition, e.offset);
      const count = num(await call("requeue", base(sub.topic), args));
      if (count > 0) announce({ topic: sub.topic, subscription, at: now });
      return count;
    },

    async trim(topic, { olderThan, maxBytes, dedupeBefore }) {
      const n = await partitionsOf(topic);
      let removed = 0;
      for (let p = 0; p < n; p++) {
        removed += num(await call("trim", base(topic), [p, olderThan, maxBytes, dedupeBefore]));
      }
      return removed;
    },

    healthy: () => redis.status === "ready",

    watch(listener) {
      listeners.add(listener);
      if (!subscriber) {
        // its own connection, which may queue its SUBSCRIBE until connected (the command connection may not)
        const sub = (redis as Redis).duplicate({ lazyConnect: false, enableOfflineQueue: true });
        subscriber = sub;
        sub.on("error", () => {}); // it reconnects and resubscribes by itself
        sub.on("message", (_channel: string, message: string) => {
          let change: StoreChange;
          try {
            change = JSON.parse(message) as StoreChange;
          } catch {
            return;
          }
          for (const l of listeners) l(change);
        });
        void sub.subscribe(channel).catch(() => {});
      }
      return () => {
        listeners.delete(listener);
      };
    },

    async close() {
      await subscriber?.quit().catch(() => subscriber?.disconnect());
      await redis.quit().catch(() => redis.disconnect());
    },
  };
  // Every failure leaves as a CebusError: a Redis that is away is `unavailable` (retry), never `internal`.
  for (const [name, value] of Object.entries(store)) {
    if (typeof value !== "function" || name === "watch" || name === "healthy") continue;
    (store as unknown as Record<string, unknown>)[name] = async (...args: unknown[]) => {
      try {
        return await (value as (...a: unknown[]) => Promise<unknown>).apply(store, args);
      } catch (error) {
        throw error instanceof CebusError ? error : translate(error);
      }
    };
  }
  return store;
}
