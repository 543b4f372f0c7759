"""CloudEvents in and out: the wire type is the CloudEvents Protobuf format; users may pass the ``cloudevents``
SDK's event (``cloudevents.core.v1.event.CloudEvent``), a dict of attributes with ``data``, or the Protobuf message."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import Any, Union

from cloudevents.core.base import BaseCloudEvent
from cloudevents.core.v1.event import CloudEvent

from cebus._gen.io.cloudevents.v1.cloudevents_pb2 import CloudEvent as ProtoCloudEvent
from cebus.errors import CebusError

EventInput = Union[BaseCloudEvent, ProtoCloudEvent, Mapping[str, Any]]
"""What publish accepts: a cloudevents CloudEvent, the Protobuf CloudEvent, or ``{"type", "source", ..., "data"}``."""

_REQUIRED = ("id", "source", "specversion", "type")
_SPEC_VERSION = "1.0"
_ATTRIBUTE_NAME = re.compile(r"[a-z0-9]+")


def is_event(value: object) -> bool:
    """True for one event (as opposed to a list of them); anything else that is not iterable counts as one too, so
    that ``to_proto`` names what is wrong with it."""
    if isinstance(value, (Mapping, ProtoCloudEvent, str, bytes)) or hasattr(value, "get_attributes"):
        return True
    return not isinstance(value, Iterable)


def to_proto(event: EventInput) -> ProtoCloudEvent:
    """Converts an event to the Protobuf CloudEvent. Dict events get an id (a UUID) and specversion 1.0 when absent."""
    if isinstance(event, ProtoCloudEvent):
        return event
    if isinstance(event, Mapping):
        attributes = {k: v for k, v in event.items() if k != "data"}
        attributes.setdefault("id", str(uuid.uuid4()))
        attributes.setdefault("specversion", "1.0")
        data = event.get("data")
    elif hasattr(event, "get_attributes"):
        attributes = dict(event.get_attributes())
        data = event.get_data()
    else:
        raise CebusError(
            "invalid_argument",
            f"cannot publish a {type(event).__name__}; pass a cloudevents CloudEvent, a dict or a Protobuf CloudEvent",
        )
    pb = ProtoCloudEvent(
        id=str(attributes.get("id", "")),
        source=str(attributes.get("source", "")),
        spec_version=str(attributes.get("specversion", "")),
        type=str(attributes.get("type", "")),
    )
    for name, value in attributes.items():
        if name in _REQUIRED or value is None:
            continue
        target = pb.attributes[name]
        if isinstance(value, bool):
            target.ce_boolean = value
        elif isinstance(value, int):
            target.ce_integer = value
        elif isinstance(value, datetime):
            target.ce_timestamp.FromDatetime(value.astimezone(timezone.utc))
        elif isinstance(value, (bytes, bytearray)):
            target.ce_bytes = bytes(value)
        else:
            target.ce_string = str(value)
    if isinstance(data, (bytes, bytearray)):
        pb.binary_data = bytes(data)
    elif isinstance(data, str):
        pb.text_data = data
    elif data is not None:
        pb.text_data = json.dumps(data, separators=(",", ":"))
        if "datacontenttype" not in attributes:
            pb.attributes["datacontenttype"].ce_string = "application/json"
    return pb


def validate_event(pb: ProtoCloudEvent, path: str = "event") -> None:
    """Checks an event against the CloudEvents spec as the broker does; raises ``invalid_argument`` naming the field
    (prefixed with ``path``, e.g. ``event.source``) and saying how to fix it."""
    if not pb.id:
        raise _invalid(path, "id", "is missing; set a unique id, e.g. a UUID")
    if not pb.source:
        raise _invalid(path, "source", "is missing; set a URI-reference naming the producer, e.g. /orders-service")
    if not pb.type:
        raise _invalid(path, "type", "is missing; set a type, e.g. com.example.order.created")
    if pb.spec_version != _SPEC_VERSION:
        raise _invalid(
            path, "specversion", f"is {pb.spec_version!r} but Cebus speaks CloudEvents '1.0'; set it to '1.0'"
        )
    for name, value in pb.attributes.items():
        field = f"attributes.{name}"
        if name in _REQUIRED:
            raise _invalid(path, field, f"must not be in the attribute map; set the {name!r} field instead")
        if not _ATTRIBUTE_NAME.fullmatch(name):
            raise _invalid(path, field, "is not a valid attribute name; use lower-case letters a-z and digits 0-9 only")
        kind = value.WhichOneof("attr")
        if kind is None:
            raise _invalid(path, field, "has no value; set one of its typed values or remove it")
        if name == "time" and kind not in ("ce_timestamp", "ce_string"):
            raise _invalid(path, field, "must be a timestamp")


def _invalid(path: str, field: str, message: str) -> CebusError:
    return CebusError("invalid_argument", f"{path}.{field} {message}", field=f"{path}.{field}")


def attributes_of(pb: ProtoCloudEvent) -> dict[str, Any]:
    """The event's attributes as CloudEvents names and Python values."""
    attributes: dict[str, Any] = {"id": pb.id, "source": pb.source, "specversion": pb.spec_version, "type": pb.type}
    for name, value in pb.attributes.items():
        kind = value.WhichOneof("attr")
        if kind == "ce_timestamp":
            attributes[name] = value.ce_timestamp.ToDatetime(tzinfo=timezone.utc)
        elif kind is not None:
            attributes[name] = getattr(value, kind)
    return attributes


def data_of(pb: ProtoCloudEvent) -> Any:
    """The event's data: parsed JSON for JSON content types, text, or bytes (None when there is none)."""
    kind = pb.WhichOneof("data")
    if kind == "binary_data":
        return pb.binary_data
    if kind == "text_data":
        content_type = pb.attributes["datacontenttype"].ce_string if "datacontenttype" in pb.attributes else ""
        if content_type == "application/json" or content_type.endswith("+json"):
            try:
                return json.loads(pb.text_data)
            except ValueError:
                return pb.text_data
        return pb.text_data
    if kind == "proto_data":
        return pb.proto_data.SerializeToString()
    return None


def from_proto(pb: ProtoCloudEvent) -> CloudEvent:
    """Converts the Protobuf CloudEvent to the cloudevents SDK's event (attributes and data as published)."""
    attributes = attributes_of(pb)
    event = CloudEvent(attributes=dict(attributes), data=data_of(pb))
    if "time" not in attributes:
        event.get_attributes().pop("time", None)  # the cloudevents SDK stamps "now"; this event had no time
    return event
