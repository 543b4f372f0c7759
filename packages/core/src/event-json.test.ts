import { describe, expect, it } from "vitest";
import { validateEvent } from "./event.js";
import { eventData, fromCloudEventJson, toCloudEvent, toCloudEventJson } from "./event-json.js";

describe("event JSON mapping", () => {
  it("builds a valid event from a friendly input, JSON data by default", () => {
    const event = toCloudEvent({
      type: "order.created",
      source: "/shop",
      data: { id: 42 },
      partitionkey: "c-7",
    });
    expect(() => validateEvent(event)).not.toThrow();
    expect(event.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(eventData(event)).toEqual({ id: 42 });
    expect(toCloudEventJson(event)).toMatchObject({
      specversion: "1.0",
      type: "order.created",
      datacontenttype: "application/json",
      partitionkey: "c-7",
      data: { id: 42 },
    });
  });

  it("round-trips text, binary, time and typed extensions through the JSON format", () => {
    const time = new Date("2026-01-02T03:04:05.678Z");
    const original = toCloudEvent({
      id: "1",
      type: "t",
      source: "/s",
      time,
      data: new Uint8Array([1, 2, 3]),
      extensions: { count: 3, flag: true, note: "x" },
    });
    const json = toCloudEventJson(original);
    expect(json).toMatchObject({
      time: time.toISOString(),
      data_base64: "AQID",
      count: 3,
      flag: true,
      note: "x",
    });
    const back = fromCloudEventJson(JSON.parse(JSON.stringify(json)));
    expect(back.data).toEqual(original.data);
    expect(toCloudEventJson(back)).toEqual(json);
  });

  it("rejects JSON without the required attributes, naming the field", () => {
    expect(() => fromCloudEventJson({ specversion: "1.0", id: "1", type: "t" })).toThrow(
      /source must be a non-empty string/,
    );
    expect(() => fromCloudEventJson([])).toThrow(/must be an object/);
    expect(() =>
      fromCloudEventJson({ specversion: "1.0", id: "1", source: "/s", type: "t", time: "yesterday" }),
    ).toThrow(/time 'yesterday' is not an RFC 3339 timestamp/);
  });

  it("rejects integers a CloudEvent cannot carry", () => {
    expect(() => toCloudEvent({ type: "t", source: "/s", extensions: { big: 2 ** 40 } })).toThrow(
      /32-bit whole numbers/,
    );
  });
});
