import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { type BrokerProcess, type BrowserPage, openBrowserPage, startBroker } from "@cebus/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// The browser bundle (`@cebus/client/bundle`, built by `pnpm build`) in Debian's headless Chromium, on a page of
// its own origin calling a real broker that allows it through CORS. The page reports what it received; the test
// asserts on that record (no screenshots).
const bundle = readFileSync(fileURLToPath(new URL("../dist/browser/cebus.js", import.meta.url)));

let broker: BrokerProcess;
let tab: BrowserPage;
beforeAll(async () => {
  tab = await openBrowserPage({
    "/": '<!doctype html><script type="module">import * as cebus from "/cebus.js"; window.cebus = cebus;</script>',
    "/cebus.js": bundle,
  });
  broker = await startBroker({ store: "sqlite", args: ["--cors-origins", tab.origin] });
}, 60_000);
afterAll(async () => {
  await tab?.close();
  await broker?.[Symbol.asyncDispose]();
});

/** What the page saw: each delivery as id#attempt, in arrival order. */
interface PageRecord {
  published: number[];
  received: string[];
  inFlightAfter: string;
}

describe("@cebus/client in headless Chromium", () => {
  it("publishes, receives in key order, nacks (redelivered with the next attempt) and acks", async () => {
    const record = await tab.page.evaluate(async (url): Promise<PageRecord> => {
      const { createClient } = (window as unknown as { cebus: typeof import("./index.browser.js") }).cebus;
      const cebus = createClient({ url });
      await cebus.admin.createTopic("page-orders", { partitions: 4 });
      await cebus.admin.createSubscription("page-billing", {
        topic: "page-orders",
        startAt: "earliest",
        ordered: true,
        retry: { minMs: 10, maxMs: 50 },
      });
      const results = await cebus.publish(
        "page-orders",
        ["o1", "o2", "o3", "o4"].map((id) => ({
          id,
          type: "order.created",
          source: "/page",
          partitionkey: "customer-7",
          data: { id },
        })),
      );
      const received: string[] = [];
      const subscription = cebus.subscribe("page-billing");
      for await (const message of subscription) {
        received.push(`${message.id}#${message.attempt}`);
        if (message.id === "o2" && message.attempt === 1) await message.nack();
        else await message.ack();
        if (message.id === "o4") break;
      }
      const stats = await cebus.admin.subscriptionStats("page-billing");
      await cebus.close();
      return {
        published: results.map((r) => r.offset),
        received,
        inFlightAfter: String(stats.inFlight),
      };
    }, broker.url);
    expect(record.published).toEqual([0, 1, 2, 3]);
    // Ordered by key: the nacked o2 holds o3 and o4 back until it is redelivered and acked.
    expect(record.received).toEqual(["o1#1", "o2#1", "o2#2", "o3#1", "o4#1"]);
    expect(record.inFlightAfter).toBe("0");
    expect(tab.errors).toEqual([]);
  });

  it("turns a broker error into a CebusError with the code and message, and a bad event changes nothing", async () => {
    const outcome = await tab.page.evaluate(async (url) => {
      const { createClient, CebusError } = (
        window as unknown as { cebus: typeof import("./index.browser.js") }
      ).cebus;
      const cebus = createClient({ url });
      await cebus.admin.createTopic("page-strict");
      const error = await cebus
        .publish("page-strict", [
          { id: "ok", type: "t", source: "/page" },
          { id: "bad", type: "", source: "/page" },
        ])
        .catch((e: unknown) => e);
      const stats = await cebus.admin.topicStats("page-strict");
      const missing = await cebus
        .publish("page-missing", { type: "t", source: "/page" })
        .catch((e: unknown) => e);
      return {
        isCebusError: error instanceof CebusError,
        code: (error as { code: string }).code,
        message: (error as Error).message,
        stored: String(stats.eventCount),
        missingCode: (missing as { code: string }).code,
      };
    }, broker.url);
    expect(outcome).toMatchObject({ isCebusError: true, code: "invalid_argument", stored: "0" });
    expect(outcome.message).toContain("type");
    expect(outcome.missingCode).toBe("not_found");
  });
});
