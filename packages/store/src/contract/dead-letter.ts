import { describe, expect, it } from "vitest";
import type { AppendEvent, Lease, LeaseRef, Store } from "../store.js";
import {
  claimRequest,
  events,
  noDedupe,
  type StoreFactory,
  SUB,
  T0,
  topic,
  withSubscription,
} from "./fixtures.js";

const ref = (lease: Lease | undefined): LeaseRef => ({
  partition: lease?.event.partition ?? -1,
  offset: lease?.event.offset ?? -1,
  token: lease?.token ?? "",
});

/** The dead-letter copy of a lease's event: same source and id (so dedupe must not swallow it), marked data. */
function copyOf(lease: Lease | undefined, partition = 0): AppendEvent {
  const offset = lease?.event.offset ?? -1;
  return {
    partition,
    source: "src",
    id: `dead-${offset}`,
    key: undefined,
    data: new TextEncoder().encode(`dead ${offset}`),
  };
}

async function withDeadLetterTopic(factory: StoreFactory, partitions = 1): Promise<Store> {
  const store = await withSubscription(factory, partitions);
  await store.createTopic(topic("dlq"));
  return store;
}

const deadLetters = async (store: Store) =>
  (await store.read("dlq", 0, 0, 100)).map((event) => new TextDecoder().decode(event.data));

export function describeDeadLetters(factory: StoreFactory): void {
  describe("term with dead letters", () => {
    it("settle - a term appends the dead-letter copy of each matched lease and ends those leases in one step", async () => {
      const store = await withDeadLetterTopic(factory);
      await store.append("t", events(3), noDedupe);
      const [a, b, c] = await store.claim(claimRequest());
      const stale = { ...ref(b), token: "not-the-token" };
      const matches = await store.settle(SUB, {
        kind: "term",
        leases: [ref(a), stale, ref(c)],
        now: T0 + 10,
        deadLetter: { topic: "dlq", events: [copyOf(a), copyOf(b), copyOf(c)] },
      });
      expect(matches).toEqual([true, false, true]);
      expect(await deadLetters(store)).toEqual(["dead 0", "dead 2"]);
      const again = await store.claim(claimRequest({ now: T0 + 60_000, token: "later" }));
      expect(again.map((lease) => lease.event.offset)).toEqual([1]); // b expired and comes back; a and c never
      await store.close();
    });

    it("settle - a term that matches nothing, or not all with allOrNothing, appends no dead letter", async () => {
      const store = await withDeadLetterTopic(factory);
      await store.append("t", events(2), noDedupe);
      const [a, b] = await store.claim(claimRequest());
      const late = await store.settle(SUB, {
        kind: "term",
        leases: [ref(a)],
        now: T0 + 5000, // past the deadline: the lease is no longer held
        deadLetter: { topic: "dlq", events: [copyOf(a)] },
      });
      const partial = await store.settle(SUB, {
        kind: "term",
        leases: [ref(b), { ...ref(b), offset: 99 }],
        now: T0 + 10,
        allOrNothing: true,
        deadLetter: { topic: "dlq", events: [copyOf(b), copyOf(b)] },
      });
      expect([late, partial]).toEqual([[false], [true, false]]);
      expect(await deadLetters(store)).toEqual([]);
      expect(await store.settle(SUB, { kind: "ack", leases: [ref(b)], now: T0 + 20 })).toEqual([true]);
      await store.close();
    });

    it("settle - dead letters keep the source and id of an event already in the dead-letter topic", async () => {
      const store = await withDeadLetterTopic(factory);
      await store.append("t", events(2), noDedupe);
      const [a, b] = await store.claim(claimRequest());
      const dedupeOn = { now: T0, dedupeSince: T0 - 60_000 };
      await store.append("dlq", [{ ...copyOf(a), data: new TextEncoder().encode("earlier") }], dedupeOn);
      await store.settle(SUB, {
        kind: "term",
        leases: [ref(a), ref(b)],
        now: T0 + 10,
        deadLetter: { topic: "dlq", events: [copyOf(a), copyOf(b)] },
      });
      expect(await deadLetters(store)).toEqual(["earlier", "dead 0", "dead 1"]);
      await store.close();
    });
  });
}
