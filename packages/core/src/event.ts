import { create } from "@bufbuild/protobuf";
import { base64Encode } from "@bufbuild/protobuf/wire";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import {
  type CloudEvent,
  type CloudEvent_CloudEventAttributeValue,
  CloudEvent_CloudEventAttributeValueSchema,
} from "@cebus/proto";
import { CebusError } from "./errors.js";

/** The CloudEvents version Cebus speaks. */
export const SPEC_VERSION = "1.0";

/** Context attributes carried as fields of the Protobuf CloudEvent, never in its attribute map. */
const fieldAttributes = new Set(["id", "source", "specversion", "type"]);

/** Attribute names per the CloudEvents spec: lower-case letters and digits. */
const attributeName = /^[a-z0-9]+$/;

/**
 * Checks an event against the CloudEvents spec. Throws invalid_argument naming the field (prefixed with `path`,
 * e.g. "events[3]") and saying how to fix it.
 */
export function validateEvent(event: CloudEvent, path = "event"): void {
  const fail = (field: string, message: string): never => {
    throw new CebusError("invalid_argument", `${path}.${field} ${message}`, { field: `${path}.${field}` });
  };
  if (event.id === "") fail("id", "is missing; set a unique id, e.g. a UUID");
  if (event.source === "")
    fail("source", "is missing; set a URI-reference naming the producer, e.g. /orders-service");
  if (event.type === "") fail("type", "is missing; set a type, e.g. com.example.order.created");
  if (event.specVersion === "") fail("specversion", `is missing; set it to '${SPEC_VERSION}'`);
  if (event.specVersion !== SPEC_VERSION) {
    fail(
      "specversion",
      `is '${event.specVersion}' but Cebus speaks CloudEvents '${SPEC_VERSION}'; set it to '${SPEC_VERSION}'`,
    );
  }
  for (const [name, value] of Object.entries(event.attributes)) {
    if (fieldAttributes.has(name)) {
      fail(`attributes.${name}`, `must not be in the attribute map; set the '${name}' field instead`);
    }
    if (!attributeName.test(name)) {
      fail(
        `attributes.${name}`,
        "is not a valid attribute name; use lower-case letters a-z and digits 0-9 only",
      );
    }
    if (value.attr.case === undefined)
      fail(`attributes.${name}`, "has no value; set one of its typed values or remove it");
  }
  const time = event.attributes.time;
  if (time && time.attr.case !== "ceTimestamp" && time.attr.case !== "ceString") {
    fail("attributes.time", "must be a timestamp");
  }
}

/** The string form of an attribute (context attribute or extension), or undefined when absent. */
export function attributeString(event: CloudEvent, name: string): string | undefined {
  switch (name) {
    case "id":
      return event.id;
    case "source":
      return event.source;
    case "specversion":
      return event.specVersion;
    case "type":
      return event.type;
  }
  const value = event.attributes[name];
  return value ? attributeValueString(value) : undefined;
}

export function attributeValueString(value: CloudEvent_CloudEventAttributeValue): string | undefined {
  const attr = value.attr;
  switch (attr.case) {
    case "ceBoolean":
      return attr.value ? "true" : "false";
    case "ceInteger":
      return String(attr.value);
    case "ceString":
    case "ceUri":
    case "ceUriRef":
      return attr.value;
    case "ceBytes":
      return base64Encode(attr.value);
    case "ceTimestamp":
      return timestampDate(attr.value).toISOString();
    default:
      return undefined;
  }
}

/** A string attribute value, for building events. */
export function stringAttribute(value: string): CloudEvent_CloudEventAttributeValue {
  return create(CloudEvent_CloudEventAttributeValueSchema, { attr: { case: "ceString", value } });
}

/** The event's `partitionkey` extension (CloudEvents partitioning extension), or undefined. */
export function partitionKey(event: CloudEvent): string | undefined {
  const key = event.attributes.partitionkey;
  if (!key) return undefined;
  return attributeValueString(key);
}
