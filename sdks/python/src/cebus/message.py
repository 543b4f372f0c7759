"""One delivery of one event, settled once with ack, nack or term."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from cloudevents.core.v1.event import CloudEvent

from cebus._gen.cebus.v1.subscriber_pb2 import Delivery
from cebus._gen.io.cloudevents.v1.cloudevents_pb2 import CloudEvent as ProtoCloudEvent
from cebus.errors import CebusError
from cebus.events import data_of, from_proto

if TYPE_CHECKING:
    from cebus.subscription import Subscription


class Message:
    """A delivered event. ``ack()`` is confirmed: once it returns, the event is never redelivered to this
    subscription. Settle each message once (ack, nack or term); ``extend()`` as often as needed before."""

    def __init__(self, delivery: Delivery, subscription: Subscription) -> None:
        self.proto: ProtoCloudEvent = delivery.event
        self.delivery_id: str = delivery.delivery_id
        self.attempt: int = delivery.attempt
        """1 for the first delivery, then 1 + nacks + expired leases."""
        self.partition: int = delivery.partition
        self.offset: int = delivery.offset
        self.publish_time: datetime = delivery.publish_time.ToDatetime(tzinfo=timezone.utc)
        self.lease_deadline: datetime | None = (
            delivery.lease_deadline.ToDatetime(tzinfo=timezone.utc) if delivery.HasField("lease_deadline") else None
        )
        """Settle before this (on the broker's clock) or the event is redelivered: the deadline as delivered
        (``extend()`` moves it on at the broker). None for at-most-once."""
        self._subscription = subscription
        self._settled: str | None = None

    @property
    def id(self) -> str:
        return self.proto.id

    @property
    def source(self) -> str:
        return self.proto.source

    @property
    def type(self) -> str:
        return self.proto.type

    @property
    def event(self) -> CloudEvent:
        """The event as the cloudevents SDK's CloudEvent."""
        return from_proto(self.proto)

    @property
    def data(self) -> Any:
        """Parsed JSON for JSON content types, text, or bytes."""
        return data_of(self.proto)

    async def _settle(self, action: str, call: Callable[[], Awaitable[None]]) -> None:
        if self._settled:
            raise CebusError(
                "failed_precondition",
                f"message {self.id} (delivery {self.delivery_id}) was already {self._settled}; settle each message once",
            )
        self._settled = action
        self._subscription._forget(self.delivery_id)
        await call()

    async def ack(self) -> None:
        """Confirms the message."""
        await self._settle("acked", lambda: self._subscription._settle("ack", [self.delivery_id]))

    async def nack(self, delay: float | None = None) -> None:
        """Redeliver after ``delay`` seconds (None: the subscription's retry backoff)."""
        await self._settle("nacked", lambda: self._subscription._settle("nack", [self.delivery_id], seconds=delay))

    async def term(self, reason: str = "terminated by consumer") -> None:
        """Gives up: the event is dead-lettered now (or dropped when the subscription has no dead-letter topic)."""
        await self._settle("terminated", lambda: self._subscription._settle("term", [self.delivery_id], reason=reason))

    async def extend(self, extension: float | None = None) -> None:
        """Pushes the ack deadline out by ``extension`` seconds from now (None: the subscription's ack deadline)."""
        if self._settled:
            raise CebusError(
                "failed_precondition",
                f"message {self.id} (delivery {self.delivery_id}) was already {self._settled}; extend before settling",
            )
        await self._subscription._settle("extend", [self.delivery_id], seconds=extension)
