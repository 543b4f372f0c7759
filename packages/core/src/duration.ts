import { create } from "@bufbuild/protobuf";
import { type Duration, DurationSchema, type Timestamp, TimestampSchema } from "@bufbuild/protobuf/wkt";
import { CebusError } from "./errors.js";

/** Milliseconds of a Duration, or `fallback` when it is unset. */
export function durationMs(duration: Duration | undefined, fallback: number): number {
  if (!duration) return fallback;
  return Number(duration.seconds) * 1000 + Math.floor(duration.nanos / 1_000_000);
}

export function msToDuration(ms: number): Duration {
  const whole = Math.floor(ms);
  return create(DurationSchema, {
    seconds: BigInt(Math.floor(whole / 1000)),
    nanos: (whole % 1000) * 1_000_000,
  });
}

export function timestampMs(ts: Timestamp): number {
  return Number(ts.seconds) * 1000 + Math.floor(ts.nanos / 1_000_000);
}

export function msToTimestamp(ms: number): Timestamp {
  return create(TimestampSchema, {
    seconds: BigInt(Math.floor(ms / 1000)),
    nanos: (ms % 1000) * 1_000_000,
  });
}

const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses "250ms", "30s", "5m", "2h", "7d" or a bare number of milliseconds. */
export function parseDuration(text: string, what = "duration"): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(text);
  if (!match) {
    throw new CebusError(
      "invalid_argument",
      `${what} '${text}' is not a duration; write a number with a unit, e.g. 500ms, 30s, 5m, 2h or 7d`,
      { field: what },
    );
  }
  return Math.round(Number(match[1]) * (units[match[2] ?? "ms"] ?? 1));
}
