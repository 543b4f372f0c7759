import type { StoredEvent } from "@cebus/store";
import { describe, expect, it } from "vitest";
import { createRecentEvents } from "./recent-events.js";

const events = (from: number, count: number, bytes = 10): StoredEvent[] =>
  Array.from({ length: count }, (_, i) => ({
    partition: 0,
    offset: from + i,
    publishTime: 1,
    key: undefined,
    data: new Uint8Array(bytes),
  }));
const offsets = (list: StoredEvent[] | undefined) => list?.map((e) => e.offset);

describe("recent events", () => {
  it("serves reads that start inside the tail and sends earlier ones to the database", () => {
    const recent = createRecentEvents(5);
    recent.appended("t", 0, events(0, 3));
    recent.appended("t", 0, events(3, 4));
    expect(offsets(recent.from("t", 0, 1, 10))).toBeUndefined(); // offsets 0..1 fell out of the tail of 5
    expect(offsets(recent.from("t", 0, 2, 10))).toEqual([2, 3, 4, 5, 6]);
    expect(offsets(recent.from("t", 0, 3, 2))).toEqual([3, 4]);
    expect(offsets(recent.from("t", 0, 5, 10))).toEqual([5, 6]);
    expect(recent.from("t", 0, 7, 10)).toEqual([]); // the tail ends at the partition's end
    expect(recent.at("t", 0, 6)?.offset).toBe(6);
    expect(recent.at("t", 0, 1)).toBeUndefined();
    expect(recent.from("t", 1, 3, 1)).toBeUndefined();
    expect(recent.from("u", 0, 3, 1)).toBeUndefined();
  });

  it("starts over when an append does not follow the tail", () => {
    const recent = createRecentEvents();
    recent.appended("t", 0, events(0, 3));
    recent.appended("t", 0, events(10, 2));
    expect(recent.from("t", 0, 0, 10)).toBeUndefined();
    expect(offsets(recent.from("t", 0, 10, 10))).toEqual([10, 11]);
  });

  it("drops everything when all tails together pass the byte bound, and a topic on request", () => {
    const recent = createRecentEvents(100, 1000);
    recent.appended("a", 0, events(0, 40));
    recent.appended("b", 0, events(0, 40));
    expect(offsets(recent.from("a", 0, 0, 1))).toEqual([0]);
    recent.forgetTopic("a");
    expect(recent.from("a", 0, 0, 1)).toBeUndefined();
    expect(offsets(recent.from("b", 0, 0, 1))).toEqual([0]);
    recent.appended("a", 0, events(0, 70)); // 400 + 700 bytes > 1000
    expect(recent.from("a", 0, 0, 1)).toBeUndefined();
    expect(recent.from("b", 0, 0, 1)).toBeUndefined();
  });
});
