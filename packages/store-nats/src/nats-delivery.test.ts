import { CebusError } from "@cebus/core";
import { encodeState, type PartitionDeliveryState } from "@cebus/store/delivery";
import { describe, expect, it } from "vitest";
import { JsApiError, type JsRequests } from "./js-requests.js";
import { createNames } from "./names.js";
import type { NatsContext } from "./nats-context.js";
import { changeState, maxAttempts } from "./nats-delivery.js";

/** A meta bucket of one state value in memory: reads and compare-and-set publishes as JetStream answers them. */
function fakeContext(initial: PartitionDeliveryState) {
  const value = { seq: 1, data: encodeState(initial) };
  const counts = { reads: 0, writes: 0, conflicts: 0 };
  let othersWrite = 0; // how many of the next saves another process wins
  const fast: Pick<JsRequests, "directGet" | "publish"> = {
    async directGet() {
      counts.reads++;
      return { seq: value.seq, data: value.data, operation: "PUT" };
    },
    async publish(_subject, data, options) {
      if (othersWrite > 0) {
        othersWrite--;
        value.seq++; // the other process's write lands first
      }
      if (options?.expectLastSubjectSequence !== value.seq) {
        counts.conflicts++;
        throw new JsApiError(10071, "wrong last sequence");
      }
      counts.writes++;
      value.seq++;
      value.data = data;
      return { seq: value.seq, duplicate: false };
    },
  };
  const ctx = {
    fast,
    names: createNames("u"),
    states: new Map(),
    locks: new Map(),
  } as unknown as NatsContext;
  return {
    ctx,
    counts,
    value,
    othersWin: (n: number) => {
      othersWrite = n;
    },
  };
}

const moveCursor = (state: PartitionDeliveryState | undefined) => ({
  state: { cursor: (state?.cursor ?? 0) + 1, leases: [] },
  result: state?.cursor,
});

describe("nats delivery states: compare-and-set", () => {
  it("a save that loses to another process is decided again on a fresh read", async () => {
    const fake = fakeContext({ cursor: 0, leases: [] });
    fake.othersWin(2);
    expect(await changeState(fake.ctx, "s", 0, moveCursor)).toBe(0);
    expect(fake.counts).toEqual({ reads: 3, writes: 1, conflicts: 2 });
  });

  it("gives up after maxAttempts conflicts in a row with `aborted`, naming the subscription partition", async () => {
    const fake = fakeContext({ cursor: 0, leases: [] });
    fake.othersWin(Number.POSITIVE_INFINITY);
    const error = await changeState(fake.ctx, "orders", 3, moveCursor).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CebusError);
    expect(error).toMatchObject({ code: "aborted" });
    expect((error as Error).message).toMatch(/subscription 'orders' partition 3 changed under 50 attempts/);
    expect(fake.counts.conflicts).toBe(maxAttempts);
  }, 20_000);

  it("a decision on the cached state that writes nothing stands while nobody wrote, else is made again", async () => {
    const fake = fakeContext({ cursor: 0, leases: [] });
    await changeState(fake.ctx, "s", 0, moveCursor); // cached: cursor 1
    const decisions: (number | undefined)[] = [];
    const look = (state: PartitionDeliveryState | undefined) => {
      decisions.push(state?.cursor);
      return { result: state?.cursor };
    };
    expect(await changeState(fake.ctx, "s", 0, look)).toBe(1);
    expect(decisions).toEqual([1]); // one fresh read found the cached revision: no second decision
    fake.value.seq++; // another process writes (same bytes, newer revision)
    expect(await changeState(fake.ctx, "s", 0, look)).toBe(1);
    expect(decisions).toEqual([1, 1, 1]); // decided on the cache, then again on the fresh read
  });
});
