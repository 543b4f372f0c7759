import { describe, expect, it } from "vitest";
import { createSequenceCheck } from "./sequence-check.js";

const first = (offset: number, key = "k", partition = 0) => ({ partition, offset, attempt: 1, key });

describe("sequence checks", () => {
  it("accepts a key's first deliveries in growing offsets, gaps included (other keys share the partition)", () => {
    const seq = createSequenceCheck();
    expect([0, 3, 7].map((o) => seq.check(first(o)))).toEqual([undefined, undefined, undefined]);
  });

  it("reports a first delivery of an offset received before as a repeat", () => {
    const seq = createSequenceCheck();
    seq.check(first(4));
    expect(seq.check(first(4))).toEqual({
      type: "sequence",
      anomaly: "repeat",
      partition: 0,
      key: "k",
      offset: 4,
      previous: 4,
    });
  });

  it("reports a first delivery of a lower offset of the key as out of order", () => {
    const seq = createSequenceCheck();
    seq.check(first(9));
    expect(seq.check(first(5))).toMatchObject({ anomaly: "out-of-order", offset: 5, previous: 9 });
    expect(seq.check(first(10))).toBeUndefined(); // the highest offset stays the reference
  });

  it("never reports redeliveries, keyless events, or the same key in another partition", () => {
    const seq = createSequenceCheck();
    seq.check(first(9));
    expect(seq.check({ partition: 0, offset: 9, attempt: 2, key: "k" })).toBeUndefined();
    expect(seq.check({ partition: 0, offset: 1, attempt: 1, key: undefined })).toBeUndefined();
    expect(seq.check(first(1, "k", 1))).toBeUndefined();
  });

  it("keeps at most maxKeys keys, forgetting the least recently seen", () => {
    const seq = createSequenceCheck(2);
    seq.check(first(5, "a"));
    seq.check(first(5, "b"));
    seq.check(first(6, "a")); // a is now the most recent
    seq.check(first(5, "c")); // b is forgotten
    expect(seq.check(first(1, "a"))).toMatchObject({ anomaly: "out-of-order" }); // a is still known
    expect(seq.check(first(1, "b"))).toBeUndefined(); // b was forgotten
  });
});
