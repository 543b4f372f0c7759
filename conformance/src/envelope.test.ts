import { clone, create } from "@bufbuild/protobuf";
import { CloudEvent_CloudEventAttributeValueSchema, CloudEventSchema } from "@cebus/proto";
import { describe, expect, it } from "vitest";
import { eventDifference, fullEnvelopeEvent } from "./envelope.js";

const event = (n: number) => fullEnvelopeEvent(`e${n}`, n, "/conformance", "conformance.event");

describe("the full envelope", () => {
  it("carries every attribute type and every data kind over three events", () => {
    const kinds = new Set<string | undefined>();
    const dataKinds = new Set<string | undefined>();
    for (const n of [0, 1, 2]) {
      const e = event(n);
      for (const value of Object.values(e.attributes)) kinds.add(value.attr.case);
      dataKinds.add(e.data.case);
    }
    expect([...kinds].sort()).toEqual([
      "ceBoolean",
      "ceBytes",
      "ceInteger",
      "ceString",
      "ceTimestamp",
      "ceUri",
      "ceUriRef",
    ]);
    expect([...dataKinds].sort()).toEqual(["binaryData", "protoData", "textData"]);
  });

  it("an event delivered unchanged, plus the broker's sequence attribute, is the same", () => {
    const delivered = clone(CloudEventSchema, event(2));
    delivered.attributes.sequence = create(CloudEvent_CloudEventAttributeValueSchema, {
      attr: { case: "ceString", value: "00000000000000000002" },
    });
    expect(eventDifference(event(2), delivered)).toBeUndefined();
  });

  it("names what changed: an attribute's type or value, a missing attribute, the data, a context attribute", () => {
    const asString = clone(CloudEventSchema, event(1));
    asString.attributes.comexampleint = create(CloudEvent_CloudEventAttributeValueSchema, {
      attr: { case: "ceString", value: String(-2_147_483_000 + 1) },
    });
    expect(eventDifference(event(1), asString)).toMatch(/^attribute comexampleint is /);
    const missing = clone(CloudEventSchema, event(1));
    delete missing.attributes.comexampleuriref;
    expect(eventDifference(event(1), missing)).toMatch(/^attribute comexampleuriref is -/);
    const data = clone(CloudEventSchema, event(0));
    data.data = { case: "textData", value: "changed" };
    expect(eventDifference(event(0), data)).toBe(
      "data (textData) differs from what was published (binaryData)",
    );
    const type = clone(CloudEventSchema, event(0));
    type.type = "other";
    expect(eventDifference(event(0), type)).toBe("type is 'other', published 'conformance.event'");
  });
});
