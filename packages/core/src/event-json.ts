import { create } from "@bufbuild/protobuf";
import { base64Decode, base64Encode } from "@bufbuild/protobuf/wire";
import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  type CloudEvent,
  type CloudEvent_CloudEventAttributeValue,
  CloudEvent_CloudEventAttributeValueSchema,
  CloudEventSchema,
} from "@cebus/proto";
import { CebusError } from "./errors.js";
import { SPEC_VERSION } from "./event.js";

type AttributeInput = string | number | boolean | Uint8Array | Date;

/** A friendly event to publish: required attributes, optional ones, and data of any JSON-able value. */
export interface EventInput {
  type: string;
  source: string;
  /** Defaults to a random UUID. */
  id?: string;
  subject?: string;
  time?: Date | string;
  datacontenttype?: string;
  dataschema?: string;
  /** Uint8Array: binary; string: text (text/plain); anything else: JSON (application/json). */
  data?: unknown;
  /** The partitioning extension: events of one key keep their order. */
  partitionkey?: string;
  extensions?: Record<string, AttributeInput>;
}

/** A CloudEvent in the CloudEvents JSON format (structured mode). */
export interface CloudEventJson {
  specversion: string;
  id: string;
  source: string;
  type: string;
  data?: unknown;
  data_base64?: string;
  [attribute: string]: unknown;
}

function attribute(value: AttributeInput, name: string): CloudEvent_CloudEventAttributeValue {
  const make = (attr: CloudEvent_CloudEventAttributeValue["attr"]) =>
    create(CloudEvent_CloudEventAttributeValueSchema, { attr });
  if (value instanceof Date) return make({ case: "ceTimestamp", value: timestampFromDate(value) });
  if (value instanceof Uint8Array) return make({ case: "ceBytes", value });
  switch (typeof value) {
    case "boolean":
      return make({ case: "ceBoolean", value });
    case "number":
      if (!Number.isInteger(value) || value < -(2 ** 31) || value >= 2 ** 31) {
        throw new CebusError(
          "invalid_argument",
          `attribute '${name}' is ${value}; CloudEvents integers are 32-bit whole numbers, send it as a string`,
          {
            field: name,
          },
        );
      }
      return make({ case: "ceInteger", value });
    default:
      return make({ case: "ceString", value: String(value) });
  }
}

function isJsonType(contentType: string | undefined): boolean {
  if (!contentType) return false;
  const type = (contentType.split(";")[0] ?? "").trim().toLowerCase();
  return type === "application/json" || type === "text/json" || type.endsWith("+json");
}

/** Builds a Protobuf CloudEvent from a friendly input; id defaults to a UUID, specversion to 1.0. */
export function toCloudEvent(input: EventInput): CloudEvent {
  const event = create(CloudEventSchema, {
    id: input.id ?? crypto.randomUUID(),
    source: input.source,
    specVersion: SPEC_VERSION,
    type: input.type,
  });
  const attrs = event.attributes;
  let contentType = input.datacontenttype;
  if (input.data instanceof Uint8Array) {
    event.data = { case: "binaryData", value: input.data };
  } else if (typeof input.data === "string") {
    event.data = { case: "textData", value: input.data };
    contentType ??= "text/plain";
  } else if (input.data !== undefined) {
    event.data = { case: "textData", value: JSON.stringify(input.data) };
    contentType ??= "application/json";
  }
  if (contentType) attrs.datacontenttype = attribute(contentType, "datacontenttype");
  if (input.subject !== undefined) attrs.subject = attribute(input.subject, "subject");
  if (input.time !== undefined)
    attrs.time = attribute(input.time instanceof Date ? input.time : new Date(input.time), "time");
  if (input.dataschema !== undefined) {
    attrs.dataschema = create(CloudEvent_CloudEventAttributeValueSchema, {
      attr: { case: "ceUri", value: input.dataschema },
    });
  }
  if (input.partitionkey !== undefined) attrs.partitionkey = attribute(input.partitionkey, "partitionkey");
  for (const [name, value] of Object.entries(input.extensions ?? {})) attrs[name] = attribute(value, name);
  return event;
}

/** The event's data: parsed JSON for JSON content types, text for text, bytes for binary, undefined when none. */
export function eventData(event: CloudEvent): unknown {
  const contentType = event.attributes.datacontenttype;
  const type = contentType?.attr.case === "ceString" ? contentType.attr.value : undefined;
  switch (event.data.case) {
    case "textData":
      if (isJsonType(type)) {
        try {
          return JSON.parse(event.data.value);
        } catch {
          return event.data.value;
        }
      }
      return event.data.value;
    case "binaryData":
      return event.data.value;
    case "protoData":
      return event.data.value;
    default:
      return undefined;
  }
}

function jsonValue(value: CloudEvent_CloudEventAttributeValue): unknown {
  const attr = value.attr;
  switch (attr.case) {
    case "ceBytes":
      return base64Encode(attr.value);
    case "ceTimestamp":
      return timestampDate(attr.value).toISOString();
    default:
      return attr.value;
  }
}

/** The CloudEvents JSON format of an event: attributes at the top level, `data` or `data_base64`. */
export function toCloudEventJson(event: CloudEvent): CloudEventJson {
  const json: CloudEventJson = {
    specversion: event.specVersion,
    id: event.id,
    source: event.source,
    type: event.type,
  };
  for (const [name, value] of Object.entries(event.attributes)) json[name] = jsonValue(value);
  if (event.data.case === "binaryData") json.data_base64 = base64Encode(event.data.value);
  else if (event.data.case === "textData") json.data = eventData(event);
  else if (event.data.case === "protoData") json.data_base64 = base64Encode(event.data.value.value);
  return json;
}

const timeAttributes = new Set(["time"]);
const uriAttributes = new Set(["dataschema"]);

/** Parses the CloudEvents JSON format into a Protobuf CloudEvent; throws invalid_argument naming the field. */
export function fromCloudEventJson(json: unknown): CloudEvent {
  if (!json || typeof json !== "object" || Array.isArray(json)) {
    throw new CebusError(
      "invalid_argument",
      "a CloudEvent in JSON must be an object with specversion, id, source and type",
    );
  }
  const { specversion, id, source, type, data, data_base64, ...rest } = json as Record<string, unknown>;
  for (const [name, value] of Object.entries({ specversion, id, source, type })) {
    if (typeof value !== "string" || value === "") {
      throw new CebusError("invalid_argument", `${name} must be a non-empty string`, { field: name });
    }
  }
  const event = create(CloudEventSchema, {
    id: id as string,
    source: source as string,
    specVersion: specversion as string,
    type: type as string,
  });
  for (const [name, value] of Object.entries(rest)) {
    if (value === null || value === undefined) continue;
    if (timeAttributes.has(name) && typeof value === "string") {
      const date = new Date(value);
      if (Number.isNaN(date.getTime())) {
        throw new CebusError("invalid_argument", `${name} '${value}' is not an RFC 3339 timestamp`, {
          field: name,
        });
      }
      event.attributes[name] = attribute(date, name);
    } else if (uriAttributes.has(name) && typeof value === "string") {
      event.attributes[name] = create(CloudEvent_CloudEventAttributeValueSchema, {
        attr: { case: "ceUri", value },
      });
    } else if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") {
      event.attributes[name] = attribute(value, name);
    } else {
      throw new CebusError("invalid_argument", `attribute '${name}' must be a string, number or boolean`, {
        field: name,
      });
    }
  }
  if (data_base64 !== undefined) {
    if (typeof data_base64 !== "string") {
      throw new CebusError("invalid_argument", "data_base64 must be a base64 string", {
        field: "data_base64",
      });
    }
    event.data = { case: "binaryData", value: base64Decode(data_base64) };
  } else if (data !== undefined) {
    const contentType = typeof rest.datacontenttype === "string" ? rest.datacontenttype : undefined;
    if (typeof data === "string" && !isJsonType(contentType)) event.data = { case: "textData", value: data };
    else {
      event.data = { case: "textData", value: JSON.stringify(data) };
      if (!contentType) event.attributes.datacontenttype = attribute("application/json", "datacontenttype");
    }
  }
  return event;
}
