import { describe, expect, it } from "vitest";
import { partitionForKey } from "./partition.js";

describe("partitionForKey", () => {
  it("sends one key to one partition every time", () => {
    expect(partitionForKey("customer-7", 8)).toBe(partitionForKey("customer-7", 8));
  });

  it("spreads many keys over all partitions", () => {
    const seen = new Set<number>();
    for (let i = 0; i < 200; i++) seen.add(partitionForKey(`key-${i}`, 8));
    expect(seen.size).toBe(8);
  });

  it("uses FNV-1a over UTF-8 bytes (stable across processes and releases)", () => {
    expect(partitionForKey("a", 1_000_000_007)).toBe(0xe40c292c % 1_000_000_007);
  });
});
