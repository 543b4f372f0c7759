"""One delivery of one event, settled once with ack, nack or term."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from functools import cached_property
from typing import Any, Protocol

from cloudevents.core.v1.event import CloudEvent

from cebus._gen.cebus.v1.subscriber_pb2 import Delivery
from cebus._gen.io.cloudevents.v1.cloudevents_pb2 import CloudEvent as ProtoCloudEvent
from cebus.errors import CebusError
from cebus.events import data_of, from_proto


class Settler(Protocol):
    """How the messages of one stream are settled; each future completes once the broker confirmed the settle."""

    def ack(self, delivery_id: str) -> asyncio.Future[None]: ...
    def nack(self, delivery_id: str, delay: float | None) -> asyncio.Future[None]: ...
    def extend(self, delivery_id: str, extension: float | None) -> asyncio.Future[None]: ...
    def term(self, delivery_id: str, reason: str) -> asyncio.Future[None]: ...


class Message:
    """A delivered event. Settle it once: ``await message.ack()``, ``nack(delay)`` or ``term(reason)``; ``extend()``
    as often as needed before that. Each returns an awaitable that completes once the broker confirmed the settle
    (after an ack returned, the event is never redelivered to this subscription) and raises ``CebusError`` when the
    broker refused it (``failed_precondition`` for an expired lease or a second settle)."""

    def __init__(self, delivery: Delivery, settler: Settler) -> None:
        self._delivery = delivery
        self._settler = settler
        self._settled: str | None = None
        self.proto: ProtoCloudEvent = delivery.event
        """The event as the Protobuf CloudEvent, as it travels."""
        self.delivery_id: str = delivery.delivery_id
        """Opaque; names this delivery attempt only."""
        self.attempt: int = delivery.attempt
        """1 for the first delivery, then 1 + nacks + expired leases."""
        self.partition: int = delivery.partition
        self.offset: int = delivery.offset

    def __repr__(self) -> str:
        where = f"{self.partition}/{self.offset}"
        return f"<cebus.Message id={self.id!r} type={self.type!r} attempt={self.attempt} at={where}>"

    @property
    def id(self) -> str:
        return self.proto.id

    @property
    def source(self) -> str:
        return self.proto.source

    @property
    def type(self) -> str:
        return self.proto.type

    @cached_property
    def key(self) -> str | None:
        """The event's partition key (its ``partitionkey`` attribute), None when it has none."""
        value = self.proto.attributes.get("partitionkey")
        return value.ce_string if value is not None and value.WhichOneof("attr") == "ce_string" else None

    @cached_property
    def sequence(self) -> str | None:
        """The event's ``sequence`` attribute, set by the broker: its offset, zero-padded to 20 digits."""
        value = self.proto.attributes.get("sequence")
        return value.ce_string if value is not None and value.WhichOneof("attr") == "ce_string" else None

    @cached_property
    def publish_time(self) -> datetime:
        """When the broker stored the event (UTC)."""
        return self._delivery.publish_time.ToDatetime(tzinfo=timezone.utc)

    @cached_property
    def lease_deadline(self) -> datetime | None:
        """Settle before this (on the broker's clock, UTC) or the event is redelivered: the deadline as delivered
        (``extend()`` moves it on at the broker). None for at-most-once subscriptions."""
        if not self._delivery.HasField("lease_deadline"):
            return None
        return self._delivery.lease_deadline.ToDatetime(tzinfo=timezone.utc)

    @cached_property
    def event(self) -> CloudEvent:
        """The event as the cloudevents SDK's CloudEvent."""
        return from_proto(self.proto)

    @cached_property
    def data(self) -> Any:
        """The event's data by its content type: parsed JSON for JSON types, text, or bytes (None when it has none)."""
        return data_of(self.proto)

    @property
    def settled(self) -> str | None:
        """``"acked"``, ``"nacked"`` or ``"terminated"`` once settled; None before."""
        return self._settled

    def ack(self) -> asyncio.Future[None]:
        """Confirms the message: once the returned awaitable completes, the event is never redelivered to this
        subscription. Acks of one event-loop iteration travel to the broker together."""
        refused = self._settle("acked")
        return refused if refused is not None else self._settler.ack(self.delivery_id)

    def nack(self, delay: float | None = None) -> asyncio.Future[None]:
        """Asks for redelivery after ``delay`` seconds (None: the subscription's retry backoff)."""
        refused = self._settle("nacked")
        return refused if refused is not None else self._settler.nack(self.delivery_id, delay)

    def term(self, reason: str = "terminated by consumer") -> asyncio.Future[None]:
        """Gives up: the event is dead-lettered now (or dropped when the subscription has no dead-letter topic)."""
        refused = self._settle("terminated")
        return refused if refused is not None else self._settler.term(self.delivery_id, reason)

    def extend(self, extension: float | None = None) -> asyncio.Future[None]:
        """Pushes the lease deadline out to ``extension`` seconds from now (None: the subscription's ack deadline)."""
        if self._settled:
            return _failed(self._already("extend it before settling"))
        return self._settler.extend(self.delivery_id, extension)

    def _settle(self, action: str) -> asyncio.Future[None] | None:
        """Marks the message settled; a failed awaitable when it already was."""
        if self._settled:
            return _failed(self._already("settle each message once"))
        self._settled = action
        return None

    def _already(self, advice: str) -> CebusError:
        return CebusError(
            "failed_precondition",
            f"message {self.id} (delivery {self.delivery_id}) was already {self._settled}; {advice}",
        )


def _failed(error: CebusError) -> asyncio.Future[None]:
    future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    future.set_exception(error)
    return future
