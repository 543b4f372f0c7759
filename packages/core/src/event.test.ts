import { create } from "@bufbuild/protobuf";
import { CloudEvent_CloudEventAttributeValueSchema, CloudEventSchema } from "@cebus/proto";
import { describe, expect, it } from "vitest";
import type { CebusError } from "./errors.js";
import { attributeString, partitionKey, stringAttribute, validateEvent } from "./event.js";

const valid = () =>
  create(CloudEventSchema, { id: "1", source: "/test", specVersion: "1.0", type: "t", attributes: {} });

function rejection(mutate: (e: ReturnType<typeof valid>) => void): CebusError {
  const event = valid();
  mutate(event);
  try {
    validateEvent(event, "events[0]");
  } catch (error) {
    return error as CebusError;
  }
  throw new Error("expected a rejection");
}

describe("validateEvent", () => {
  it("accepts a complete event", () => {
    expect(() => validateEvent(valid())).not.toThrow();
  });

  it.each([
    ["id", (e: ReturnType<typeof valid>) => (e.id = "")],
    ["source", (e: ReturnType<typeof valid>) => (e.source = "")],
    ["type", (e: ReturnType<typeof valid>) => (e.type = "")],
    ["specversion", (e: ReturnType<typeof valid>) => (e.specVersion = "")],
  ])("rejects a missing %s with invalid_argument naming the field", (field, mutate) => {
    const error = rejection(mutate);
    expect(error.code).toBe("invalid_argument");
    expect(error.field).toBe(`events[0].${field}`);
    expect(error.message).toMatch(/missing; set/);
  });

  it("rejects another spec version and says which one to use", () => {
    const error = rejection((e) => (e.specVersion = "0.3"));
    expect(error.message).toContain("set it to '1.0'");
  });

  it("rejects attribute names that are not lower-case letters and digits", () => {
    const error = rejection((e) => (e.attributes["Bad-Name"] = stringAttribute("x")));
    expect(error.field).toBe("events[0].attributes.Bad-Name");
  });

  it("rejects required attributes placed in the attribute map", () => {
    const error = rejection((e) => (e.attributes.id = stringAttribute("x")));
    expect(error.message).toContain("set the 'id' field instead");
  });
});

describe("attributes", () => {
  it("reads context attributes and extensions as strings", () => {
    const event = valid();
    event.attributes.partitionkey = stringAttribute("customer-7");
    event.attributes.count = create(CloudEvent_CloudEventAttributeValueSchema, {
      attr: { case: "ceInteger", value: 3 },
    });
    expect(attributeString(event, "type")).toBe("t");
    expect(attributeString(event, "count")).toBe("3");
    expect(attributeString(event, "missing")).toBeUndefined();
    expect(partitionKey(event)).toBe("customer-7");
  });
});
