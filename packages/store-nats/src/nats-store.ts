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
import { isInFlight, unreadRetained, waitsInBacklog } from "@cebus/store";
import {
  DiscardPolicy,
  type JetStreamClient,
  type JetStreamManager,
  RetentionPolicy,
  StorageType,
  type StreamInfo,
} from "@nats-io/jetstream";
import { type KV, Kvm } from "@nats-io/kv";
import { type NatsConnection, nanos } from "@nats-io/nats-core";
import { type CasValues, createCasValues } from "./cas-values.js";
import { decodeEvent, encodeEvent } from "./codec.js";
import { createJsRequests } from "./js-requests.js";
import { createNames, dedupeKey } from "./names.js";
import {
  claimOn,
  decodeState,
  encodeState,
  type PartitionState,
  requeueOn,
  settleOn,
} from "./partition-state.js";

export interface NatsStoreOptions {
  /** A connected client. The store owns it and closes it on close. */
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  /** Several Cebus installations can share one NATS under different namespaces [cebus]. */
  namespace?: string;
  description?: string;
}

/**
 * How long JetStream itself remembers message ids: the topic's dedupe window, at least 2 minutes (a publish retried
 * after a lost answer is stored once) and at most an hour (the server keeps every id of the window in memory).
 */
const nativeWindow = (windowMs: number) => Math.min(Math.max(windowMs, 120_000), 3_600_000);
/** Topic configs are re-read after this long, so a topic recreated by another broker is seen. */
const TOPIC_CACHE_MS = 1000;

interface DedupeEntry {
  p: number;
  /** Offset; absent while the publish that reserved the entry is under way. */
  o?: number;
  t: number;
}

const json = (value: unknown) => Buffer.from(JSON.stringify(value));
const parse = <T>(bytes: Uint8Array) => JSON.parse(Buffer.from(bytes).toString("utf8")) as T;

/**
 * The store on NATS JetStream. Each topic partition is a stream (offset = sequence - 1), read with direct gets;
 * topics, subscriptions and the delivery state of each subscription partition are values in a KV bucket changed
 * by compare-and-set; each topic has a KV bucket of dedupe entries whose age limit is the dedupe window. JetStream
 * consumers are not used: leases need token-checked settles, nack delays and per-key parking across competing
 * consumers, which a JetStream consumer cannot express. All state is in NATS, so brokers over one NATS act as one.
 */
export async function createNatsStore(options: NatsStoreOptions): Promise<Store> {
  const { nc, js, jsm } = options;
  const names = createNames(options.namespace ?? "cebus");
  const kvm = new Kvm(js);
  const meta: KV = await kvm.create(names.metaBucket, { history: 1, storage: StorageType.File });
  const values: CasValues = createCasValues(meta);
  const fast = createJsRequests(nc);
  const dedupeBuckets = new Map<string, KV>();
  const topicCache = new Map<string, { topic: Topic | undefined; at: number }>();
  const listeners = new Set<(change: StoreChange) => void>();
  let connected = true;
  void (async () => {
    for await (const status of nc.status()) {
      if (status.type === "disconnect") connected = false;
      else if (status.type === "reconnect") connected = true;
    }
  })();

  const announce = (change: StoreChange) => {
    try {
      nc.publish(names.changes, JSON.stringify(change));
    } catch {
      // best effort: consumers also poll
    }
  };
  const topicMissing = (name: string) =>
    new CebusError("not_found", `topic '${name}' does not exist; create it first`, { field: "topic" });
  const subscriptionMissing = (name: string) =>
    new CebusError("not_found", `subscription '${name}' does not exist; create it first`, {
      field: "subscription",
    });
  const ensureConnected = () => {
    if (!connected || nc.isClosed())
      throw new CebusError("unavailable", "nats: not connected; the broker retries when NATS is back");
  };

  async function getTopic(name: string, fresh = false): Promise<Topic | undefined> {
    const cached = topicCache.get(name);
    if (!fresh && cached && Date.now() - cached.at < TOPIC_CACHE_MS) return cached.topic;
    const entry = await meta.get(names.topicKey(name));
    const topic = entry && entry.operation === "PUT" ? fromBinary(TopicSchema, entry.value) : undefined;
    topicCache.set(name, { topic, at: Date.now() });
    return topic;
  }
  async function requireTopic(name: string): Promise<Topic> {
    const topic = await getTopic(name);
    if (!topic) throw topicMissing(name);
    return topic;
  }
  async function getSubscription(name: string): Promise<Subscription | undefined> {
    const entry = await meta.get(names.subscriptionKey(name));
    return entry && entry.operation === "PUT" ? fromBinary(SubscriptionSchema, entry.value) : undefined;
  }
  async function requireSubscription(name: string): Promise<Subscription> {
    const sub = await getSubscription(name);
    if (!sub) throw subscriptionMissing(name);
    return sub;
  }
  const partitionsOf = (topic: Topic) => Math.max(1, topic.partitions);
  const floors = new Map<string, { floor: number; at: number }>();
  async function dedupeFloor(topic: string): Promise<number> {
    const cached = floors.get(topic);
    if (cached && Date.now() - cached.at < TOPIC_CACHE_MS) return cached.floor;
    const entry = await meta.get(names.dedupeFloorKey(topic));
    const floor = entry && entry.operation === "PUT" ? parse<number>(entry.value) : 0;
    floors.set(topic, { floor, at: Date.now() });
    return floor;
  }
  const windowMs = (topic: Topic) =>
    topic.dedupeWindow
      ? Number(topic.dedupeWindow.seconds) * 1000 + Math.floor(topic.dedupeWindow.nanos / 1e6)
      : 120_000;

  async function dedupeBucket(topic: Topic): Promise<KV> {
    let kv = dedupeBuckets.get(topic.name);
    if (!kv) {
      // entries older than the window (plus a margin for clocks) leave by themselves
      kv = await kvm.create(names.dedupeBucket(topic.name), {
        history: 1,
        storage: StorageType.File,
        ttl: Math.max(windowMs(topic), 1000) + 60_000,
      });
      dedupeBuckets.set(topic.name, kv);
    }
    return kv;
  }

  async function addStreams(topic: Topic): Promise<void> {
    for (let p = 0; p < partitionsOf(topic); p++) {
      const name = names.stream(topic.name, p);
      // a stream left by an earlier topic of this name (a delete cut short) goes: a new topic starts empty
      await jsm.streams.delete(name).catch(() => false);
      await jsm.streams.add({
        name,
        subjects: [names.subject(topic.name, p)],
        storage: StorageType.File,
        retention: RetentionPolicy.Limits,
        discard: DiscardPolicy.Old,
        allow_direct: true,
        duplicate_window: nanos(nativeWindow(windowMs(topic))),
        num_replicas: 1,
      });
    }
  }

  async function streamState(topic: string, partition: number): Promise<StreamInfo["state"]> {
    try {
      return (await jsm.streams.info(names.stream(topic, partition))).state;
    } catch (error) {
      if (error instanceof Error && /stream not found/i.test(error.message)) throw topicMissing(topic);
      throw error;
    }
  }

  async function readAt(topic: string, partition: number, offset: number): Promise<StoredEvent | undefined> {
    const msg = await fast.directGet(names.stream(topic, partition), { seq: offset + 1 });
    if (!msg || msg.seq !== offset + 1) return undefined;
    return toStored(partition, offset, msg.data);
  }

  async function readFrom(topic: string, partition: number, offset: number, limit: number) {
    if (limit <= 0) return [];
    const stream = names.stream(topic, partition);
    // the first event at or after the offset (trimmed events leave a gap below the stream's first sequence)
    const first = await fast.directGet(stream, {
      seq: offset + 1,
      nextBySubject: names.subject(topic, partition),
    });
    if (!first) return [];
    const out: StoredEvent[] = [toStored(partition, first.seq - 1, first.data)];
    if (limit === 1) return out;
    const last = (await streamState(topic, partition)).last_seq;
    const seqs: number[] = [];
    for (let s = first.seq + 1; s <= Math.min(last, first.seq + limit - 1); s++) seqs.push(s);
    const msgs = await Promise.all(seqs.map((seq) => fast.directGet(stream, { seq })));
    for (const msg of msgs) {
      if (!msg) break;
      out.push(toStored(partition, msg.seq - 1, msg.data));
    }
    return out;
  }

  const toStored = (partition: number, offset: number, bytes: Uint8Array): StoredEvent => {
    const decoded = decodeEvent(bytes);
    return { partition, offset, publishTime: decoded.publishTime, key: decoded.key, data: decoded.data };
  };

  async function addBytes(topic: string, partition: number, delta: number): Promise<void> {
    if (delta === 0) return;
    await values.change(names.bytesKey(topic, partition), (current) => ({
      value: json((current ? parse<number>(current.value) : 0) + delta),
      result: undefined,
    }));
  }

  async function changeState<T>(
    subscription: string,
    partition: number,
    fn: (state: PartitionState) => Promise<{ state?: PartitionState; result: T }>,
  ): Promise<T> {
    return values.change(names.stateKey(subscription, partition), async (current) => {
      if (!current) throw subscriptionMissing(subscription);
      const before = decodeState(current.value);
      const out = await fn(before);
      return {
        value: out.state && out.state !== before ? encodeState(out.state) : undefined,
        result: out.result,
      };
    });
  }

  /** Reserves the dedupe entry of an event, or finds the event it repeats. */
  async function reserve(
    kv: KV,
    bucket: string,
    key: string,
    partition: number,
    now: number,
    since: number,
  ): Promise<{ duplicate: { p: number; o: number } } | { revision: number; p: number; t: number }> {
    for (let attempt = 0; ; attempt++) {
      try {
        // most events are new: try to create the entry first, and read it only when it exists
        if (attempt === 0) {
          const created = await fast.publish(`$KV.${bucket}.${key}`, json({ p: partition, t: now }), {
            expectLastSubjectSequence: 0,
          });
          return { revision: created.seq, p: partition, t: now };
        }
        const entry = await kv.get(key);
        if (!entry || entry.operation !== "PUT") {
          return { revision: await kv.create(key, json({ p: partition, t: now })), p: partition, t: now };
        }
        const found = parse<DedupeEntry>(entry.value);
        if (found.t >= since) {
          if (found.o !== undefined) return { duplicate: { p: found.p, o: found.o } };
          // stored (or reserved by a publish whose answer was lost): publish again under its message id, and
          // JetStream answers with the original offset (or stores it, when the first publish never arrived)
          return { revision: entry.revision, p: found.p, t: found.t };
        }
        return {
          revision: await kv.update(key, json({ p: partition, t: now }), entry.revision),
          p: partition,
          t: now,
        };
      } catch (error) {
        if (
          attempt >= 20 ||
          !(error instanceof Error && /wrong last sequence|key exists/i.test(error.message))
        )
          throw error;
      }
    }
  }

  const store: Store = {
    description: options.description ?? "nats",

    async createTopic(topic) {
      try {
        await meta.create(names.topicKey(topic.name), toBinary(TopicSchema, topic));
      } catch (error) {
        if (error instanceof Error && /wrong last sequence/i.test(error.message)) return false;
        throw error;
      }
      topicCache.delete(topic.name);
      await addStreams(topic);
      return true;
    },

    getTopic: (name) => getTopic(name, true),

    async listTopics() {
      const keys: string[] = [];
      for await (const key of await meta.keys("topic.*")) keys.push(key);
      const entries = await Promise.all(keys.map((key) => meta.get(key)));
      return entries
        .filter((e) => e && e.operation === "PUT")
        .map((e) => fromBinary(TopicSchema, e?.value ?? new Uint8Array()))
        .sort((a, b) => a.name.localeCompare(b.name));
    },

    async deleteTopic(name) {
      const topic = await getTopic(name, true);
      if (!topic) return false;
      await meta.purge(names.topicKey(name));
      topicCache.delete(name);
      for (let p = 0; p < partitionsOf(topic); p++) {
        await jsm.streams.delete(names.stream(name, p)).catch(() => false);
        await meta.purge(names.bytesKey(name, p));
      }
      values.forget(names.bytesKey(name, 0).replace(/\.0$/, "."));
      await meta.purge(names.dedupeFloorKey(name));
      dedupeBuckets.delete(name);
      await kvm
        .open(names.dedupeBucket(name))
        .then((kv) => kv.destroy())
        .catch(() => {});
      return true;
    },

    async partitionStats(name) {
      const topic = await requireTopic(name);
      return Promise.all(
        Array.from({ length: partitionsOf(topic) }, async (_, p): Promise<PartitionInfo> => {
          const [state, bytes] = await Promise.all([streamState(name, p), meta.get(names.bytesKey(name, p))]);
          const end = state.last_seq;
          return {
            partition: p,
            startOffset: state.messages === 0 ? end : state.first_seq - 1,
            endOffset: end,
            eventCount: state.messages,
            bytes: bytes && bytes.operation === "PUT" ? parse<number>(bytes.value) : 0,
          };
        }),
      );
    },

    async offsetForTime(name, partition, time) {
      await requireTopic(name);
      const state = await streamState(name, partition);
      if (state.messages === 0) return state.last_seq;
      // publish times grow with the offset: binary search on direct gets
      let lo = state.first_seq;
      let hi = state.last_seq + 1;
      while (lo < hi) {
        const mid = Math.floor((lo + hi) / 2);
        const event = (await readFrom(name, partition, mid - 1, 1))[0];
        if (!event || event.offset + 1 > hi - 1) {
          hi = mid;
          continue;
        }
        if (event.publishTime >= time) hi = mid;
        else lo = event.offset + 2;
      }
      return lo - 1;
    },

    async append(name: string, events: AppendEvent[], opts: AppendOptions): Promise<AppendResult[]> {
      ensureConnected();
      const topic = await requireTopic(name);
      const partitions = partitionsOf(topic);
      for (const [i, e] of events.entries()) {
        if (!Number.isInteger(e.partition) || e.partition < 0 || e.partition >= partitions)
          throw new CebusError(
            "invalid_argument",
            `events[${i}] targets partition ${e.partition} but the topic has ${partitions}`,
          );
      }
      const dedupe = opts.dedupeSince <= opts.now;
      const results: (AppendResult | undefined)[] = new Array(events.length);
      // per event to store: its partition and the message id JetStream dedupes a retried publish on
      const toStore: { index: number; partition: number; msgID?: string; key?: string; t?: number }[] = [];
      const repeats: { index: number; of: number }[] = [];
      let kv: KV | undefined;
      if (dedupe) {
        kv = await dedupeBucket(topic);
        const since = Math.max(opts.dedupeSince, await dedupeFloor(name));
        const firstOf = new Map<string, number>();
        const keys = events.map((e) => dedupeKey(e.source, e.id));
        const reservations = await Promise.all(
          keys.map((key, i) => {
            if (firstOf.has(key)) return undefined;
            firstOf.set(key, i);
            return reserve(
              kv as KV,
              names.dedupeBucket(name),
              key,
              (events[i] as AppendEvent).partition,
              opts.now,
              since,
            );
          }),
        );
        for (const [i, r] of reservations.entries()) {
          if (r === undefined) repeats.push({ index: i, of: firstOf.get(keys[i] as string) as number });
          else if ("duplicate" in r)
            results[i] = { partition: r.duplicate.p, offset: r.duplicate.o, duplicate: true };
          else
            toStore.push({
              index: i,
              partition: r.p,
              msgID: `${keys[i]}.${r.revision}`,
              key: keys[i],
              t: r.t,
            });
        }
      } else {
        for (const [i, e] of events.entries()) toStore.push({ index: i, partition: e.partition });
      }
      const acks = await Promise.all(
        toStore.map((s) => {
          const e = events[s.index] as AppendEvent;
          return fast.publish(
            names.subject(name, s.partition),
            encodeEvent(opts.now, e.key, e.data),
            s.msgID ? { msgID: s.msgID } : undefined,
          );
        }),
      );
      const bytes = new Map<number, number>();
      for (const [j, s] of toStore.entries()) {
        const ack = acks[j];
        if (!ack) continue;
        results[s.index] = { partition: s.partition, offset: ack.seq - 1, duplicate: ack.duplicate };
        if (!ack.duplicate) {
          const size = (events[s.index] as AppendEvent).data.byteLength;
          bytes.set(s.partition, (bytes.get(s.partition) ?? 0) + size);
        }
      }
      await Promise.all([
        // within JetStream's own window the message id finds the offset again; past it, the entry records it
        ...toStore
          .filter((s) => s.key !== undefined && windowMs(topic) > nativeWindow(windowMs(topic)))
          .map((s) =>
            (kv as KV).put(
              s.key as string,
              json({ p: s.partition, o: results[s.index]?.offset, t: s.t ?? opts.now } satisfies DedupeEntry),
            ),
          ),
        ...[...bytes].map(([p, delta]) => addBytes(name, p, delta)),
      ]);
      for (const r of repeats) {
        const of = results[r.of] as AppendResult;
        results[r.index] = { partition: of.partition, offset: of.offset, duplicate: true };
      }
      if (bytes.size > 0) announce({ topic: name });
      return results as AppendResult[];
    },

    async read(name, partition, fromOffset, limit) {
      await requireTopic(name);
      return readFrom(name, partition, fromOffset, limit);
    },

    async createSubscription(subscription, cursors) {
      try {
        await meta.create(
          names.subscriptionKey(subscription.name),
          toBinary(SubscriptionSchema, subscription),
        );
      } catch (error) {
        if (error instanceof Error && /wrong last sequence/i.test(error.message)) return false;
        throw error;
      }
      values.forget(`${names.statePrefix(subscription.name)}.`);
      await Promise.all(
        cursors.map((cursor, p) =>
          meta.put(names.stateKey(subscription.name, p), encodeState({ cursor, leases: [] })),
        ),
      );
      return true;
    },

    getSubscription,

    async listSubscriptions(topic) {
      const keys: string[] = [];
      for await (const key of await meta.keys("sub.*")) keys.push(key);
      const entries = await Promise.all(keys.map((key) => meta.get(key)));
      return entries
        .filter((e) => e && e.operation === "PUT")
        .map((e) => fromBinary(SubscriptionSchema, e?.value ?? new Uint8Array()))
        .filter((s) => topic === undefined || s.topic === topic)
        .sort((a, b) => a.name.localeCompare(b.name));
    },

    async deleteSubscription(name) {
      if (!(await getSubscription(name))) return false;
      await meta.purge(names.subscriptionKey(name));
      const keys: string[] = [];
      for await (const key of await meta.keys(`${names.statePrefix(name)}.*`)) keys.push(key);
      await Promise.all(keys.map((key) => meta.purge(key)));
      values.forget(`${names.statePrefix(name)}.`);
      return true;
    },

    async seek({ subscription }, cursors) {
      const sub = await requireSubscription(subscription);
      await Promise.all(
        cursors.map((cursor, p) =>
          changeState(subscription, p, async () => ({ state: { cursor, leases: [] }, result: undefined })),
        ),
      );
      announce({ topic: sub.topic, subscription });
    },

    async claim(request: ClaimRequest): Promise<Lease[]> {
      if (request.max <= 0) return [];
      ensureConnected();
      const { topic, partition } = request;
      return changeState(request.subscription, partition, async (state) => {
        const out = await claimOn(state, request, {
          at: (offset) => readAt(topic, partition, offset),
          from: (offset, limit) => readFrom(topic, partition, offset, limit),
        });
        const changed =
          out.leases.length > 0 || out.state.cursor !== state.cursor || !sameLeases(state, out.state);
        return { state: changed ? out.state : undefined, result: out.leases };
      });
    },

    async settle({ subscription }: SubscriptionRef, action: SettleAction): Promise<boolean[]> {
      if (action.leases.length === 0) return [];
      ensureConnected();
      const sub = await requireSubscription(subscription);
      const byPartition = new Map<number, number[]>();
      for (const [i, ref] of action.leases.entries())
        byPartition.set(ref.partition, [...(byPartition.get(ref.partition) ?? []), i]);
      const matches: boolean[] = new Array(action.leases.length).fill(false);
      if (action.allOrNothing && byPartition.size > 1) {
        // one KV value per partition cannot change atomically with another: check all, then apply
        const checks = await Promise.all(
          [...byPartition].map(([p, indexes]) =>
            changeState(subscription, p, async (state) => ({
              result: settleOn(
                state,
                indexes.map((i) => action.leases[i] as (typeof action.leases)[number]),
                { ...action, kind: "extend", until: Number.MAX_SAFE_INTEGER },
              ).matches,
            })),
          ),
        );
        if (checks.flat().some((m) => !m)) {
          let k = 0;
          for (const [, indexes] of byPartition)
            for (const i of indexes) matches[i] = checks.flat()[k++] ?? false;
          return matches;
        }
      }
      await Promise.all(
        [...byPartition].map(([p, indexes]) =>
          changeState(subscription, p, async (state) => {
            const refs = indexes.map((i) => action.leases[i] as (typeof action.leases)[number]);
            const out = settleOn(state, refs, action);
            for (const [j, i] of indexes.entries()) matches[i] = out.matches[j] ?? false;
            return { state: out.state, result: undefined };
          }),
        ),
      );
      if (action.kind === "nack" && matches.some(Boolean))
        announce({ topic: sub.topic, subscription, at: action.until ?? action.now });
      return matches;
    },

    async subscriptionStats(subscription, now): Promise<SubscriptionCounts> {
      const sub = await getSubscription(subscription);
      if (!sub) return { backlog: 0, inFlight: 0, oldestUnackedPublishTime: undefined };
      const topic = await getTopic(sub.topic, true);
      if (!topic) return { backlog: 0, inFlight: 0, oldestUnackedPublishTime: undefined };
      let backlog = 0;
      let inFlight = 0;
      let oldest: number | undefined;
      for (let p = 0; p < partitionsOf(topic); p++) {
        const entry = await meta.get(names.stateKey(subscription, p));
        if (!entry || entry.operation !== "PUT") continue;
        const state = decodeState(entry.value);
        const stream = await streamState(sub.topic, p);
        const range = {
          startOffset: stream.messages === 0 ? stream.last_seq : stream.first_seq - 1,
          endOffset: stream.last_seq,
        };
        inFlight += state.leases.filter((l) => isInFlight(l, now)).length;
        backlog += state.leases.filter((l) => waitsInBacklog(l, range.startOffset, now)).length;
        const unread = unreadRetained(state.cursor, range);
        backlog += unread;
        const candidates = [
          state.leases.find((l) => l.offset >= range.startOffset)?.offset,
          unread > 0 ? Math.max(state.cursor, range.startOffset) : undefined,
        ];
        for (const offset of candidates) {
          if (offset === undefined) continue;
          const event = (await readFrom(sub.topic, p, offset, 1))[0];
          if (event) oldest = Math.min(oldest ?? Number.POSITIVE_INFINITY, event.publishTime);
        }
      }
      return { backlog, inFlight, oldestUnackedPublishTime: oldest };
    },

    async requeue({ subscription }, refs, now) {
      const sub = await requireSubscription(subscription);
      const byPartition = new Map<number, number[]>();
      for (const r of refs) byPartition.set(r.partition, [...(byPartition.get(r.partition) ?? []), r.offset]);
      let count = 0;
      for (const [p, offsets] of byPartition) {
        const found = (await Promise.all(offsets.map((o) => readAt(sub.topic, p, o)))).filter(
          (e): e is StoredEvent => e !== undefined,
        );
        count += await changeState(subscription, p, async (state) => {
          const out = requeueOn(state, found, now);
          return { state: out.count > 0 ? out.state : undefined, result: out.count };
        });
      }
      if (count > 0) announce({ topic: sub.topic, subscription, at: now });
      return count;
    },

    async trim(name, { olderThan, maxBytes, dedupeBefore }) {
      const topic = await requireTopic(name);
      let removed = 0;
      for (let p = 0; p < partitionsOf(topic); p++) {
        const state = await streamState(name, p);
        if (state.messages === 0) continue;
        const bytesEntry = await meta.get(names.bytesKey(name, p));
        const bytes = bytesEntry && bytesEntry.operation === "PUT" ? parse<number>(bytesEntry.value) : 0;
        // walk from the oldest event while it is too old or the partition too big; sizes come off the counter
        let seq = state.first_seq;
        let freed = 0;
        const chunk = 256;
        scan: while (seq <= state.last_seq) {
          const batch = await readFrom(name, p, seq - 1, chunk);
          if (batch.length === 0) break;
          for (const event of batch) {
            const tooOld = event.publishTime < olderThan;
            const tooBig = maxBytes > 0 && bytes - freed > maxBytes;
            if (!tooOld && !tooBig) break scan;
            freed += event.data.byteLength;
            seq = event.offset + 2;
          }
        }
        if (seq > state.first_seq) {
          const purged = await jsm.streams.purge(names.stream(name, p), { seq });
          removed += purged.purged;
          await addBytes(name, p, -freed);
        }
      }
      await values.change(names.dedupeFloorKey(name), (current) => {
        const floor = current ? parse<number>(current.value) : 0;
        floors.set(name, { floor: Math.max(floor, dedupeBefore), at: Date.now() });
        return { value: dedupeBefore > floor ? json(dedupeBefore) : undefined, result: undefined };
      });
      return removed;
    },

    healthy: () => connected && !nc.isClosed(),

    watch(listener) {
      listeners.add(listener);
      if (listeners.size === 1) {
        nc.subscribe(names.changes, {
          callback: (error, msg) => {
            if (error) return;
            let change: StoreChange;
            try {
              change = msg.json<StoreChange>();
            } catch {
              return;
            }
            for (const l of listeners) l(change);
          },
        });
      }
      return () => {
        listeners.delete(listener);
      };
    },

    async close() {
      fast.close();
      await nc.drain().catch(() => nc.close());
    },
  };

  // Every failure leaves as a CebusError: a NATS that is away is `unavailable` (retry), never `internal`.
  for (const [name, value] of Object.entries(store)) {
    if (typeof value !== "function" || name === "watch" || name === "healthy") continue;
    (store as unknown as Record<string, unknown>)[name] = async (...args: unknown[]) => {
      try {
        return await (value as (...a: unknown[]) => Promise<unknown>).apply(store, args);
      } catch (error) {
        if (error instanceof CebusError) throw error;
        const message = error instanceof Error ? error.message : String(error);
        throw new CebusError("unavailable", `nats: ${message}; the broker retries when NATS is back`, {
          cause: error,
        });
      }
    };
  }
  return store;
}

function sameLeases(a: PartitionState, b: PartitionState): boolean {
  if (a.leases.length !== b.leases.length) return false;
  return a.leases.every((l, i) => {
    const o = b.leases[i];
    return (
      o !== undefined &&
      o.offset === l.offset &&
      o.deadline === l.deadline &&
      o.held === l.held &&
      o.attempt === l.attempt &&
      o.token === l.token
    );
  });
}
