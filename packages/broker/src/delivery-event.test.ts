import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { stringAttribute } from "@cebus/core";
import { CloudEventSchema, DeliverySchema } from "@cebus/proto";
import { describe, expect, it } from "vitest";
import { deliveryWithStoredEvent, eventOf, sequenceOf, withDecodedEvent } from "./delivery-event.js";

function stored(data: string, attributes: Record<string, string> = {}) {
  const event = create(CloudEventSchema, {
    id: "e1",
    source: "/test",
    specVersion: "1.0",
    type: "t",
    data: { case: "textData", value: data },
    attributes: Object.fromEntries(Object.entries(attributes).map(([k, v]) => [k, stringAttribute(v)])),
  });
  return { event, bytes: toBinary(CloudEventSchema, event) };
}

const fields = { deliveryId: "0.7.1.a", attempt: 1, partition: 0, offset: 7n };

describe("a delivery with its stored event", () => {
  it.each([10, 200, 20_000, 3_000_000])(
    "decodes on the wire as the stored event plus its sequence (%i B of data)",
    (size) => {
      const { event, bytes } = stored("x".repeat(size), { partitionkey: "k" });
      const wire = toBinary(DeliverySchema, deliveryWithStoredEvent(fields, bytes, 7));
      const received = fromBinary(DeliverySchema, wire);
      expect(received.deliveryId).toBe("0.7.1.a");
      expect(received.offset).toBe(7n);
      expect(received.event?.data).toEqual(event.data);
      expect(received.event?.attributes.partitionkey).toEqual(stringAttribute("k"));
      expect(received.event?.attributes.sequence).toEqual(stringAttribute("00000000000000000007"));
    },
  );

  it("replaces a sequence attribute the publisher set", () => {
    const { bytes } = stored("d", { sequence: "mine" });
    const wire = toBinary(DeliverySchema, deliveryWithStoredEvent(fields, bytes, 123456789));
    expect(fromBinary(DeliverySchema, wire).event?.attributes.sequence).toEqual(
      stringAttribute(sequenceOf(123456789)),
    );
  });

  it("decodes into `event` for JSON and readers in process, with the same result as the wire", () => {
    const { bytes } = stored("json");
    const delivery = deliveryWithStoredEvent(fields, bytes, 3);
    const decoded = withDecodedEvent(delivery);
    expect(decoded.$unknown).toBeUndefined();
    expect(decoded.event).toEqual(fromBinary(DeliverySchema, toBinary(DeliverySchema, delivery)).event);
    expect(eventOf(delivery)?.attributes.sequence).toEqual(stringAttribute(sequenceOf(3)));
    expect(withDecodedEvent(decoded)).toBe(decoded);
  });
});
