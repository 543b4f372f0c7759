import { create, fromBinary } from "@bufbuild/protobuf";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { type CloudEvent, CloudEventSchema, type Delivery, DeliverySchema } from "@cebus/proto";

/**
 * The event of a delivery travels as the bytes the store holds: the broker never decodes and re-encodes it on the
 * way out. `Delivery.event` (field 5) is length-delimited on the wire, so the stored encoding of the CloudEvent is
 * written there as it is, carried in the message's unknown fields, which `toBinary` writes verbatim; a client decodes
 * an ordinary `io.cloudevents.v1.CloudEvent`. The broker's one change to the event, its `sequence` attribute (the
 * offset, zero-padded to 20 digits so it sorts as text), is one more entry of the `attributes` map appended to those
 * bytes: a map entry that comes later wins when decoded, so it replaces any `sequence` the publisher set.
 *
 * JSON has no such shortcut: `withDecodedEvent` turns a delivery into the ordinary message for the Connect JSON
 * codec (and for tests).
 */

const eventField = 5; // cebus.v1.Delivery.event
const attributesField = 5; // io.cloudevents.v1.CloudEvent.attributes (a map: entries key = 1, value = 2)
const ceStringField = 3; // io.cloudevents.v1.CloudEvent.CloudEventAttributeValue.ce_string

/** The offset as the `sequence` attribute's text. */
export function sequenceOf(offset: number): string {
  return String(offset).padStart(20, "0");
}

/** The `attributes` entry `sequence` of offset 0 as CloudEvent bytes; its last 20 bytes are the digits. */
const sequenceTemplate = new BinaryWriter()
  .tag(attributesField, WireType.LengthDelimited)
  .fork()
  .tag(1, WireType.LengthDelimited)
  .string("sequence")
  .tag(2, WireType.LengthDelimited)
  .fork()
  .tag(ceStringField, WireType.LengthDelimited)
  .string(sequenceOf(0))
  .join()
  .join()
  .finish();

/** `Delivery.event` as unknown-field bytes: the length, the stored event, then its `sequence` attribute. */
function splicedEvent(stored: Uint8Array, offset: number): Uint8Array {
  const length = stored.byteLength + sequenceTemplate.byteLength;
  let prefixLength = 1;
  for (let rest = length >>> 7; rest > 0; rest >>>= 7) prefixLength++;
  const out = new Uint8Array(prefixLength + length);
  let pos = 0;
  let rest = length;
  while (rest > 0x7f) {
    out[pos++] = (rest & 0x7f) | 0x80;
    rest >>>= 7;
  }
  out[pos++] = rest;
  out.set(stored, pos);
  pos += stored.byteLength;
  out.set(sequenceTemplate, pos);
  const digits = sequenceOf(offset);
  const end = pos + sequenceTemplate.byteLength;
  for (let i = 0; i < digits.length; i++) out[end - digits.length + i] = digits.charCodeAt(i);
  return out;
}

/** Fields of a delivery besides its event. */
export type DeliveryFields = Omit<Delivery, "$typeName" | "$unknown" | "event">;

/** A delivery whose event is the stored encoding (see above), written to the wire without a decode. */
export function deliveryWithStoredEvent(
  fields: DeliveryFields,
  stored: Uint8Array,
  offset: number,
): Delivery {
  const delivery = create(DeliverySchema, fields);
  delivery.$unknown = [
    { no: eventField, wireType: WireType.LengthDelimited, data: splicedEvent(stored, offset) },
  ];
  return delivery;
}

/** The delivery with its event decoded into `event` (for JSON and for readers in process); others unchanged. */
export function withDecodedEvent(delivery: Delivery): Delivery {
  const spliced = delivery.$unknown?.find((field) => field.no === eventField);
  if (!spliced) return delivery;
  const decoded = fromBinary(CloudEventSchema, withoutLength(spliced.data));
  const { $unknown, ...rest } = delivery;
  const others = $unknown?.filter((field) => field !== spliced) ?? [];
  return { ...rest, event: decoded, ...(others.length > 0 ? { $unknown: others } : {}) };
}

/** The event of a delivery, decoding a stored one. */
export function eventOf(delivery: Delivery): CloudEvent | undefined {
  return withDecodedEvent(delivery).event;
}

function withoutLength(data: Uint8Array): Uint8Array {
  let pos = 0;
  while ((data[pos] as number) & 0x80) pos++;
  return data.subarray(pos + 1);
}

/** The stored event decoded, for the filter and the dead-letter path (the only readers of its contents). */
export function decodeStored(stored: Uint8Array): CloudEvent {
  return fromBinary(CloudEventSchema, stored);
}
