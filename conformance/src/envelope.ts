import { create, toBinary } from "@bufbuild/protobuf";
import { anyPack, StringValueSchema, timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  type CloudEvent,
  type CloudEvent_CloudEventAttributeValue,
  CloudEvent_CloudEventAttributeValueSchema,
  CloudEventSchema,
} from "@cebus/proto";

/**
 * The full envelope (`publish: { envelope: full }`): events that carry every CloudEvents attribute type and every
 * data kind of the Protobuf format, so a case can check that each client publishes and receives them unchanged
 * (`expect: { sameEvents: true }`). Event n has the optional attributes subject, time and dataschema, one
 * extension of each type (string with non-ASCII text, boolean, integer, bytes, URI, URI-reference, timestamp), and
 * data that cycles over binary (every byte value), JSON text and `proto_data` (a packed `google.protobuf.StringValue`).
 */

type AttrCase = CloudEvent_CloudEventAttributeValue["attr"];

const attr = (value: AttrCase): CloudEvent_CloudEventAttributeValue =>
  create(CloudEvent_CloudEventAttributeValueSchema, { attr: value });

const at = (ms: number) => timestampFromMs(ms);

function attributesOf(n: number, contentType: string): CloudEvent["attributes"] {
  return {
    subject: attr({ case: "ceString", value: `orders/${n}` }),
    time: attr({ case: "ceTimestamp", value: at(1_767_323_045_678 + n) }),
    dataschema: attr({ case: "ceUri", value: `https://schemas.example/order/v${n % 3}` }),
    datacontenttype: attr({ case: "ceString", value: contentType }),
    comexamplestring: attr({ case: "ceString", value: `héllo ✓ ${n}` }),
    comexamplebool: attr({ case: "ceBoolean", value: n % 2 === 0 }),
    comexampleint: attr({ case: "ceInteger", value: -2_147_483_000 + n }),
    comexamplebytes: attr({ case: "ceBytes", value: new Uint8Array([0, 1, 127, 128, 255, n % 256]) }),
    comexampleuri: attr({ case: "ceUri", value: `urn:example:order:${n}` }),
    comexampleuriref: attr({ case: "ceUriRef", value: `/orders/${n}?view=full#items` }),
    comexampletime: attr({ case: "ceTimestamp", value: at(946_684_800_000 + n * 1001) }),
  };
}

function dataOf(n: number): { data: CloudEvent["data"]; contentType: string } {
  if (n % 3 === 0) {
    const bytes = Uint8Array.from({ length: 256 }, (_, i) => (i + n) % 256);
    return { data: { case: "binaryData", value: bytes }, contentType: "application/octet-stream" };
  }
  if (n % 3 === 1) {
    return {
      data: { case: "textData", value: `{"n":${n},"name":"ünïcødé ✓"}` },
      contentType: "application/json",
    };
  }
  const packed = anyPack(StringValueSchema, create(StringValueSchema, { value: `order ${n}` }));
  return { data: { case: "protoData", value: packed }, contentType: "application/protobuf" };
}

/** Event n of a full-envelope publish, with the given id, source and type. */
export function fullEnvelopeEvent(id: string, n: number, source: string, type: string): CloudEvent {
  const { data, contentType } = dataOf(n);
  return create(CloudEventSchema, {
    id,
    source,
    specVersion: "1.0",
    type,
    attributes: attributesOf(n, contentType),
    data,
  });
}

/** The bytes of one attribute value, or of the data, as Protobuf encodes them (for a byte-for-byte comparison). */
function attributeBytes(value: CloudEvent_CloudEventAttributeValue | undefined): string {
  return value
    ? Buffer.from(toBinary(CloudEvent_CloudEventAttributeValueSchema, value)).toString("hex")
    : "-";
}

function dataBytes(e: CloudEvent): string {
  const body = create(CloudEventSchema, { data: e.data });
  return Buffer.from(toBinary(CloudEventSchema, body)).toString("hex");
}

/**
 * How a delivered event differs from the one published, byte for byte, or undefined when they are the same: the
 * context attributes, each attribute value and the data. The broker's own `sequence` attribute is left out.
 */
export function eventDifference(published: CloudEvent, delivered: CloudEvent): string | undefined {
  for (const field of ["id", "source", "specVersion", "type"] as const) {
    if (published[field] !== delivered[field])
      return `${field} is '${delivered[field]}', published '${published[field]}'`;
  }
  const names = new Set([...Object.keys(published.attributes), ...Object.keys(delivered.attributes)]);
  names.delete("sequence");
  for (const name of [...names].sort()) {
    const before = attributeBytes(published.attributes[name]);
    const after = attributeBytes(delivered.attributes[name]);
    if (before !== after) return `attribute ${name} is ${after}, published ${before} (Protobuf bytes, hex)`;
  }
  if (dataBytes(published) !== dataBytes(delivered))
    return `data (${delivered.data.case}) differs from what was published (${published.data.case})`;
  return undefined;
}
