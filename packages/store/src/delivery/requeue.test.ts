import { describe, expect, it } from "vitest";
import type { StoredEvent } from "../store.js";
import type { EventReader } from "./events.js";
import { requeue } from "./requeue.js";

const T0 = 1_800_000_000_000;
const events: EventReader = {
  at: (offset) =>
    offset < 10
      ? ({ partition: 0, offset, publishTime: T0, key: "k", data: new Uint8Array(1) } as StoredEvent)
      : undefined,
  from: () => [],
};

describe("delivery rules: requeue", () => {
  it("requeue - skips events the cursor has not delivered yet: the cursor delivers them once", () => {
    const outcome = requeue({ cursor: 5, leases: [] }, [4, 5, 7], T0, events);
    expect(outcome.count).toBe(1);
    expect(outcome.state.leases).toEqual([
      { offset: 4, attempt: 0, token: "", deadline: T0, held: false, key: "k" },
    ]);
  });

  it("requeue - an event named twice, or already leased, is requeued at most once", () => {
    const once = requeue({ cursor: 9, leases: [] }, [3, 3, 1], T0, events);
    expect(once.count).toBe(2);
    expect(once.state.leases.map((l) => l.offset)).toEqual([1, 3]);
    expect(requeue(once.state, [3], T0, events).count).toBe(0);
  });
});
