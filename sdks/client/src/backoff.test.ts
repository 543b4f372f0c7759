import { CebusError } from "@cebus/core";
import { describe, expect, it } from "vitest";
import { retryWhileExhausted } from "./backoff.js";

const exhausted = (retryAfterMs?: number) =>
  new CebusError("resource_exhausted", "slow down", retryAfterMs === undefined ? {} : { retryAfterMs });

describe("publishing under backpressure", () => {
  it("waits the broker's hint, with jitter, and tries again until the publish goes through", async () => {
    const waits: number[] = [];
    let calls = 0;
    const result = await retryWhileExhausted(
      async () => {
        if (++calls < 4) throw exhausted(200);
        return "stored";
      },
      30_000,
      async (ms) => {
        waits.push(ms);
      },
    );
    expect(result).toBe("stored");
    expect(waits).toHaveLength(3);
    for (const wait of waits) {
      expect(wait).toBeGreaterThanOrEqual(100);
      expect(wait).toBeLessThanOrEqual(300);
    }
  });

  it("gives the refusal to the caller once the budget is spent, and other errors at once", async () => {
    let calls = 0;
    const refused = await retryWhileExhausted(
      async () => {
        calls++;
        throw exhausted(1000);
      },
      1200,
      async () => {},
    ).catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: "resource_exhausted" });
    expect(calls).toBeLessThanOrEqual(3);
    const other = await retryWhileExhausted(
      async () => {
        throw new CebusError("not_found", "no topic");
      },
      30_000,
      async () => {
        throw new Error("must not wait");
      },
    ).catch((e: unknown) => e);
    expect(other).toMatchObject({ code: "not_found" });
  });
});
