"""A live consumer of a subscription: an async iterator of messages that reconnects by itself until closed."""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING

from google.protobuf.duration_pb2 import Duration

from cebus._gen.cebus.v1.subscriber_pb2 import (
    AckRequest,
    EndReceiveRequest,
    ExtendLeaseRequest,
    FlowControl,
    NackRequest,
    ReceiveRequest,
    TermRequest,
)
from cebus.errors import CebusError, to_cebus_error
from cebus.message import Message

if TYPE_CHECKING:
    from cebus.client import Client

log = logging.getLogger("cebus")


@dataclass(frozen=True)
class Status:
    """A change in the subscription's connection: connected, disconnected, reconnecting or error."""

    kind: str
    error: CebusError | None = None
    delay: float = 0.0
    attempt: int = 0


class _End:
    def __init__(self, error: CebusError | None) -> None:
        self.error = error


def _duration(seconds: float | None) -> Duration | None:
    if seconds is None:
        return None
    d = Duration()
    d.FromMilliseconds(round(seconds * 1000))
    return d


class Subscription:
    """Iterate with ``async for message in subscription``. When the stream drops it reconnects with backoff; messages
    it held then are redelivered by the broker at their ack deadline. ``close()`` is a clean close: the broker releases
    every message held unsettled (received or still on its way) for redelivery at once. A permanent error
    (``not_found``, ...) ends the iteration with it."""

    def __init__(self, client: Client, name: str, max_outstanding: int | None, consumer_name: str) -> None:
        self.name = name
        self._client = client
        self._request = ReceiveRequest(subscription=name, consumer_name=consumer_name)
        if max_outstanding:
            self._request.flow.CopyFrom(FlowControl(max_outstanding_events=max_outstanding))
        self._queue: asyncio.Queue[Message | _End] = asyncio.Queue()
        self._unsettled: set[str] = set()
        self._consumer = ""  # the broker's id for the current stream's consumer, for EndReceive
        self._closed = False
        self.statuses: list[Status] = []
        """Connection changes so far, oldest first."""
        self._task = asyncio.get_running_loop().create_task(self._run())

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Message:
        item = await self._queue.get()
        if isinstance(item, _End):
            self._queue.put_nowait(item)  # later calls end too
            if item.error:
                raise item.error
            raise StopAsyncIteration
        return item

    async def __aenter__(self) -> Subscription:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Stops receiving; the iteration ends."""
        if self._closed:
            return
        self._closed = True
        # EndReceive releases everything the consumer holds, including deliveries still on their way to us;
        # cancelling the stream alone would keep those leased until their deadline. Best effort throughout: what
        # cannot be released now comes back at its ack deadline.
        released = False
        if self._consumer:
            try:
                await self._client._subscriber.end_receive(
                    EndReceiveRequest(subscription=self.name, consumer_id=self._consumer), timeout_ms=5000
                )
                released = True
            except Exception:  # noqa: BLE001
                log.debug("could not end the consumer of %s cleanly; nacking what it holds", self.name)
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            pass
        held = list(self._unsettled)
        self._unsettled.clear()
        if held and not released:
            try:
                await self._client._subscriber.nack(NackRequest(subscription=self.name, delivery_ids=held), timeout_ms=5000)
            except Exception:  # noqa: BLE001
                log.debug("could not nack %d held messages of %s on close", len(held), self.name)
        self._queue.put_nowait(_End(None))

    def _forget(self, delivery_id: str) -> None:
        self._unsettled.discard(delivery_id)

    async def _settle(self, action: str, ids: list[str], seconds: float | None = None, reason: str = "") -> None:
        subscriber = self._client._subscriber
        try:
            if action == "ack":
                await subscriber.ack(AckRequest(subscription=self.name, delivery_ids=ids))
            elif action == "nack":
                await subscriber.nack(NackRequest(subscription=self.name, delivery_ids=ids, delay=_duration(seconds)))
            elif action == "extend":
                await subscriber.extend_lease(
                    ExtendLeaseRequest(subscription=self.name, delivery_ids=ids, extension=_duration(seconds))
                )
            else:
                await subscriber.term(TermRequest(subscription=self.name, delivery_ids=ids, reason=reason))
        except Exception as error:  # noqa: BLE001
            raise to_cebus_error(error, self._client.url) from error

    def _status(self, status: Status) -> None:
        self.statuses.append(status)
        log.debug("subscription %s: %s", self.name, status)

    async def _run(self) -> None:
        delay = 0.1
        attempt = 0
        while not self._closed:
            attempt += 1
            error: CebusError | None = None
            try:
                async for response in self._client._subscriber.receive(self._request):
                    if attempt:
                        attempt, delay = 0, 0.1
                        self._consumer = response.consumer_id
                        self._status(Status("connected"))
                    for delivery in response.deliveries:
                        self._unsettled.add(delivery.delivery_id)
                        self._queue.put_nowait(Message(delivery, self))
            except asyncio.CancelledError:
                raise
            except Exception as reason:  # noqa: BLE001
                if self._closed:
                    return  # the transport turned our cancellation into an error
                error = to_cebus_error(reason, self._client.url)
                if error.permanent:
                    self._status(Status("error", error))
                    self._closed = True
                    self._queue.put_nowait(_End(error))
                    return
            if self._closed:
                return
            self._status(Status("disconnected", error))
            wait = delay / 2 + random.random() * delay / 2
            self._status(Status("reconnecting", delay=wait, attempt=attempt))
            await asyncio.sleep(wait)
            delay = min(delay * 2, 5.0)
