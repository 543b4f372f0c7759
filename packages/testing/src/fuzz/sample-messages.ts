import { type DescField, type DescMessage, fromBinary, ScalarType, toJsonString } from "@bufbuild/protobuf";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";

/** How deep nested messages are filled in; below that they are empty (recursive types end). */
const maxDepth = 3;

function wireTypeOf(scalar: ScalarType): WireType {
  switch (scalar) {
    case ScalarType.STRING:
    case ScalarType.BYTES:
      return WireType.LengthDelimited;
    case ScalarType.DOUBLE:
    case ScalarType.FIXED64:
    case ScalarType.SFIXED64:
      return WireType.Bit64;
    case ScalarType.FLOAT:
    case ScalarType.FIXED32:
    case ScalarType.SFIXED32:
      return WireType.Bit32;
    default:
      return WireType.Varint;
  }
}

/** One valid value of the scalar type (1 reads as a valid value of every varint and fixed type). */
function writeScalar(writer: BinaryWriter, fieldNo: number, scalar: ScalarType): void {
  const wireType = wireTypeOf(scalar);
  writer.tag(fieldNo, wireType);
  if (wireType === WireType.LengthDelimited) writer.string("x");
  else if (wireType === WireType.Bit64) writer.fixed64(1);
  else if (wireType === WireType.Bit32) writer.fixed32(1);
  else writer.uint32(1);
}

function writeNested(writer: BinaryWriter, fieldNo: number, desc: DescMessage, depth: number): void {
  writer
    .tag(fieldNo, WireType.LengthDelimited)
    .bytes(depth < maxDepth ? encodeSample(desc.fields, depth + 1) : new Uint8Array());
}

function writeEnum(writer: BinaryWriter, fieldNo: number): void {
  writer.tag(fieldNo, WireType.Varint).uint32(1);
}

function writeMapEntry(
  writer: BinaryWriter,
  fieldNo: number,
  field: DescField & { fieldKind: "map" },
  depth: number,
) {
  const entry = new BinaryWriter();
  writeScalar(entry, 1, field.mapKey);
  if (field.mapKind === "scalar") writeScalar(entry, 2, field.scalar);
  else if (field.mapKind === "enum") writeEnum(entry, 2);
  else writeNested(entry, 2, field.message, depth);
  writer.tag(fieldNo, WireType.LengthDelimited).bytes(entry.finish());
}

/** One valid value of the field: a list gets one element, a map one entry. */
function writeValue(writer: BinaryWriter, fieldNo: number, field: DescField, depth: number): void {
  if (field.fieldKind === "map") writeMapEntry(writer, fieldNo, field, depth);
  else if (field.fieldKind === "scalar") writeScalar(writer, fieldNo, field.scalar);
  else if (field.fieldKind === "enum") writeEnum(writer, fieldNo);
  else if (field.fieldKind === "message") writeNested(writer, fieldNo, field.message, depth);
  else if (field.listKind === "scalar") writeScalar(writer, fieldNo, field.scalar);
  else if (field.listKind === "enum") writeEnum(writer, fieldNo);
  else writeNested(writer, fieldNo, field.message, depth);
}

/**
 * A valid Protobuf binary encoding of a message with the given fields (of one message type) set, found from the descriptor alone:
 * every field of every message type gets a valid value, nested messages are filled in a few levels deep.
 */
export function encodeSample(fields: readonly DescField[], depth = 0): Uint8Array {
  const writer = new BinaryWriter();
  for (const field of fields) writeValue(writer, field.number, field, depth);
  return writer.finish();
}

/** The same message as JSON, or "{}" when it has no JSON form (an Any of an unknown type). */
export function sampleJson(desc: DescMessage, binary: Uint8Array): string {
  try {
    return toJsonString(desc, fromBinary(desc, binary));
  } catch {
    return "{}";
  }
}
