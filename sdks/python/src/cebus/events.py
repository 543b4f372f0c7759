"""CloudEvents in and out: the wire type is the CloudEvents Protobuf format; users may pass the ``cloudevents``
SDK's event (``cloudevents.core.v1.event.CloudEvent``), a dict of attributes with ``data``, or the Protobuf message."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any, Union

from cloudevents.core.base import BaseCloudEvent
from cloudevents.core.v1.event import CloudEvent

from cebus._gen.io.cloudevents.v1.cloudevents_pb2 import CloudEvent as ProtoCloudEvent
from cebus.errors import CebusError

EventInput = Union[BaseCloudEvent, ProtoCloudEvent, Mapping[str, Any]]
"""What publish accepts: a cloudevents CloudEvent, the Protobuf CloudEvent, or ``{"type", "source", ..., "data"}``."""

_REQUIRED = ("id", "source", "specversion", "type")


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
