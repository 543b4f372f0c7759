import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { CloudEventSchema, type Filter, FilterSchema } from "@cebus/proto";
import { describe, expect, it } from "vitest";
import { stringAttribute } from "./event.js";
import { compileFilter } from "./filter.js";

const event = create(CloudEventSchema, {
  id: "e1",
  source: "/shop/orders",
  specVersion: "1.0",
  type: "com.shop.order.created",
  attributes: { subject: stringAttribute("order-42"), region: stringAttribute("eu") },
});

const filter = (init: MessageInitShape<typeof FilterSchema>): Filter => create(FilterSchema, init);

describe("compileFilter", () => {
  it("matches everything without a filter", () => {
    expect(compileFilter(undefined)(event)).toBe(true);
  });

  it("exact, prefix and suffix compare attributes and extensions", () => {
    expect(
      compileFilter(filter({ filter: { case: "exact", value: { attributes: { region: "eu" } } } }))(event),
    ).toBe(true);
    expect(
      compileFilter(filter({ filter: { case: "exact", value: { attributes: { region: "us" } } } }))(event),
    ).toBe(false);
    expect(
      compileFilter(filter({ filter: { case: "prefix", value: { attributes: { type: "com.shop." } } } }))(
        event,
      ),
    ).toBe(true);
    expect(
      compileFilter(filter({ filter: { case: "suffix", value: { attributes: { subject: "-42" } } } }))(event),
    ).toBe(true);
  });

  it("a missing attribute never matches", () => {
    expect(
      compileFilter(filter({ filter: { case: "exact", value: { attributes: { tenant: "a" } } } }))(event),
    ).toBe(false);
  });

  it("all, any and not combine filters", () => {
    const eu = { filter: { case: "exact" as const, value: { attributes: { region: "eu" } } } };
    const us = { filter: { case: "exact" as const, value: { attributes: { region: "us" } } } };
    expect(compileFilter(filter({ filter: { case: "all", value: { filters: [eu, us] } } }))(event)).toBe(
      false,
    );
    expect(compileFilter(filter({ filter: { case: "any", value: { filters: [eu, us] } } }))(event)).toBe(
      true,
    );
    expect(compileFilter(filter({ filter: { case: "not", value: us } }))(event)).toBe(true);
  });

  it("rejects a filter that cannot mean anything, naming the path", () => {
    expect(() => compileFilter(filter({ filter: { case: "exact", value: { attributes: {} } } }))).toThrow(
      /filter.exact names no attribute/,
    );
    expect(() => compileFilter(filter({ filter: { case: "any", value: { filters: [] } } }))).toThrow(
      /filter.any has no filters/,
    );
    expect(() =>
      compileFilter(
        filter({
          filter: {
            case: "all",
            value: { filters: [{ filter: { case: "prefix", value: { attributes: { type: "" } } } }] },
          },
        }),
      ),
    ).toThrow(/filter.all\[0\].prefix.type is empty/);
    expect(() => compileFilter(filter({ filter: { case: "not", value: {} } }))).toThrow(
      /filter.not is empty/,
    );
  });
});
