import { describe, expect, it } from "vitest";
import { durationMs, msToDuration, parseDuration } from "./duration.js";

describe("durations", () => {
  it("parses units and bare milliseconds", () => {
    expect(parseDuration("250ms")).toBe(250);
    expect(parseDuration("30s")).toBe(30_000);
    expect(parseDuration("1.5m")).toBe(90_000);
    expect(parseDuration("7d")).toBe(604_800_000);
    expect(parseDuration("42")).toBe(42);
  });

  it("rejects text that is not a duration and shows the accepted forms", () => {
    expect(() => parseDuration("soon", "--ack-deadline")).toThrow(
      /--ack-deadline 'soon' is not a duration; write .* 30s/,
    );
  });

  it("round-trips milliseconds through google.protobuf.Duration", () => {
    expect(durationMs(msToDuration(61_250), 0)).toBe(61_250);
    expect(durationMs(undefined, 5)).toBe(5);
  });
});
