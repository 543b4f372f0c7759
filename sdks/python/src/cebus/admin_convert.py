"""Python values to and from the admin API's Protobuf shapes: durations, start positions and filters."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any, Literal, Union

from google.protobuf.duration_pb2 import Duration
from google.protobuf.empty_pb2 import Empty
from google.protobuf.timestamp_pb2 import Timestamp

from cebus._gen.cebus.v1.filter_pb2 import AttributeMatch, Filter, FilterList
from cebus._gen.cebus.v1.subscription_pb2 import PartitionOffset, PartitionOffsets, Position
from cebus.errors import CebusError

Seconds = Union[timedelta, float]
"""A duration: a ``timedelta`` or a number of seconds."""

StartAt = Union[Literal["earliest", "latest"], datetime, Mapping[int, int]]
"""Where a subscription starts or a seek moves it: ``"earliest"`` (the oldest retained event), ``"latest"`` (only
events published from now on), a ``datetime`` (the first event published at or after it), or ``{partition: offset}``
(partitions not named start at their earliest retained event)."""

FilterSpec = Mapping[str, Any]
"""A filter in the CloudEvents Subscriptions API dialects: ``{"exact": {"type": "order.created"}}``, ``{"prefix":
{...}}``, ``{"suffix": {...}}``, ``{"all": [filter, ...]}``, ``{"any": [filter, ...]}`` or ``{"not": filter}``."""

_MATCHES = ("exact", "prefix", "suffix")
_LISTS = ("all", "any")


def to_duration(value: Seconds | None) -> Duration | None:
    if value is None:
        return None
    duration = Duration()
    duration.FromTimedelta(value if isinstance(value, timedelta) else timedelta(seconds=value))
    return duration


def from_duration(message: Any, field: str) -> timedelta | None:
    """The duration field ``field`` of ``message`` as a timedelta, None when unset."""
    return getattr(message, field).ToTimedelta() if message.HasField(field) else None


def from_timestamp(message: Any, field: str) -> datetime | None:
    """The timestamp field ``field`` of ``message`` as a UTC datetime, None when unset."""
    return getattr(message, field).ToDatetime(tzinfo=timezone.utc) if message.HasField(field) else None


def to_position(at: StartAt, field: str) -> Position:
    if at == "earliest":
        return Position(earliest=Empty())
    if at == "latest":
        return Position(latest=Empty())
    if isinstance(at, datetime):
        if at.tzinfo is None:
            raise CebusError(
                "invalid_argument", f"{field}={at!r} has no time zone; pass an aware datetime", field=field
            )
        time = Timestamp()
        time.FromDatetime(at)
        return Position(time=time)
    if isinstance(at, Mapping):
        offsets = [PartitionOffset(partition=int(p), offset=int(o)) for p, o in at.items()]
        return Position(offsets=PartitionOffsets(offsets=offsets))
    raise CebusError(
        "invalid_argument",
        f"{field}={at!r}: use 'earliest', 'latest', a datetime or {{partition: offset}}",
        field=field,
    )


def from_position(position: Position) -> StartAt | None:
    kind = position.WhichOneof("position")
    if kind == "earliest" or kind == "latest":
        return kind
    if kind == "time":
        return position.time.ToDatetime(tzinfo=timezone.utc)
    if kind == "offsets":
        return {o.partition: o.offset for o in position.offsets.offsets}
    return None


def to_filter(spec: FilterSpec | Filter, field: str = "filter") -> Filter:
    """The Protobuf filter of a CloudEvents Subscriptions API filter (a Protobuf ``Filter`` passes as it is)."""
    if isinstance(spec, Filter):
        return spec
    if not isinstance(spec, Mapping) or len(spec) != 1:
        raise _bad_filter(spec, field)
    [(dialect, value)] = spec.items()
    if dialect in _MATCHES and isinstance(value, Mapping):
        return Filter(**{dialect: AttributeMatch(attributes={str(k): str(v) for k, v in value.items()})})
    if dialect in _LISTS and isinstance(value, (list, tuple)):
        nested = [to_filter(f, f"{field}.{dialect}[{i}]") for i, f in enumerate(value)]
        return Filter(**{dialect: FilterList(filters=nested)})
    if dialect == "not":
        return Filter(**{"not": to_filter(value, f"{field}.not")})
    raise _bad_filter(spec, field)


def from_filter(message: Filter) -> dict[str, Any] | None:
    """The CloudEvents Subscriptions API form of a filter; None for the empty filter (match all)."""
    dialect = message.WhichOneof("filter")
    if dialect is None:
        return None
    value = getattr(message, dialect)
    if dialect in _MATCHES:
        return {dialect: dict(value.attributes)}
    if dialect in _LISTS:
        return {dialect: [from_filter(f) or {} for f in value.filters]}
    return {dialect: from_filter(value) or {}}


def _bad_filter(spec: object, field: str) -> CebusError:
    return CebusError(
        "invalid_argument",
        f"{field}={spec!r} is not a filter: use one of {{'exact'|'prefix'|'suffix': {{attribute: value}}}}, "
        "{'all'|'any': [filter, ...]} or {'not': filter}",
        field=field,
    )
