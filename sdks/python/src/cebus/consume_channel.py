"""One connection of a subscription to the broker: the bidirectional Consume stream, on which deliveries arrive and
settles travel and are confirmed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping

from google.protobuf.duration_pb2 import Duration

from cebus._gen.cebus.v1.subscriber_connect import SubscriberServiceClient
from cebus._gen.cebus.v1.subscriber_pb2 import (
    AckAction,
    ConsumeRequest,
    ConsumeResponse,
    ConsumeStart,
    ExtendAction,
    NackAction,
    Settle,
    SettleResult,
    TermAction,
)
from cebus.errors import CebusError, code_of, to_cebus_error
from cebus.message import Message

CLOSE_GRACE = 3.0
"""Seconds a closing stream waits for the broker to end it before it is cancelled."""

_Waiter = tuple[str, "asyncio.Future[None]"]


def _outcome_unknown() -> CebusError:
    return CebusError(
        "unavailable",
        "the connection to the broker broke before the broker confirmed this settle, so it may or may not have been "
        "applied; if not, the event is redelivered once its lease expires",
    )


def _stale(closed: bool) -> CebusError:
    why = "the subscription was closed" if closed else "the stream that delivered this message has ended"
    return CebusError(
        "failed_precondition",
        f"{why}, so this message can no longer be settled; the broker redelivers it (at once after a close, else once "
        "its lease expires)",
    )


def _duration(seconds: float | None) -> Duration | None:
    if seconds is None:
        return None
    duration = Duration()
    duration.FromNanoseconds(round(seconds * 1e9))
    return duration


class ConsumeChannel:
    """A Consume stream and the settles of the messages it delivered. Acks of one event-loop iteration go as one
    ``Settle``; nack, extend and term go one by one; each settle is confirmed by the broker's ``SettleResult``."""

    def __init__(self, subscriber: SubscriberServiceClient, start: ConsumeStart, url: str, headers: Mapping[str, str]):
        self._subscriber = subscriber
        self._url = url
        self._headers = headers
        self._loop = asyncio.get_running_loop()
        self._requests: asyncio.Queue[ConsumeRequest | None] = asyncio.Queue()
        self._requests.put_nowait(ConsumeRequest(start=start))
        self._pending: dict[int, list[_Waiter]] = {}
        self._acks: list[_Waiter] = []
        self._next_id = 1
        self._writable = True  # settles can still be sent
        self._closing = False
        self._reader: asyncio.Task[None] | None = None

    async def run(self, started: Callable[[], None], deliver: Callable[[list[Message]], None]) -> None:
        """Runs until the stream ends (returns) or breaks (raises CebusError); calls ``started`` once it is open."""
        self._reader = self._loop.create_task(self._read(started, deliver))
        await asyncio.wait({self._reader})
        if not self._reader.cancelled():  # cancelled: close() gave up waiting for the broker
            self._reader.result()

    async def close(self) -> None:
        """A clean close: half-closes the stream, so the broker applies the settles it got, releases every event this
        consumer holds (including those on their way) for redelivery at once, and ends the stream; cancels the stream
        if that takes more than 3 s."""
        if self._closing:
            return
        self._closing = True
        self._flush_acks()
        self._writable = False
        self._requests.put_nowait(None)
        if self._reader is None:
            return
        done, _ = await asyncio.wait({self._reader}, timeout=CLOSE_GRACE)
        if not done:
            self._reader.cancel()
            await asyncio.wait({self._reader})
        self._fail_pending()

    def ack(self, delivery_id: str) -> asyncio.Future[None]:
        future: asyncio.Future[None] = self._loop.create_future()
        if not self._acks:
            self._loop.call_soon(self._flush_acks)
        self._acks.append((delivery_id, future))
        return future

    def nack(self, delivery_id: str, delay: float | None) -> asyncio.Future[None]:
        return self._one(delivery_id, Settle(nack=NackAction(delivery_ids=[delivery_id], delay=_duration(delay))))

    def extend(self, delivery_id: str, extension: float | None) -> asyncio.Future[None]:
        action = ExtendAction(delivery_ids=[delivery_id], extension=_duration(extension))
        return self._one(delivery_id, Settle(extend=action))

    def term(self, delivery_id: str, reason: str) -> asyncio.Future[None]:
        return self._one(delivery_id, Settle(term=TermAction(delivery_ids=[delivery_id], reason=reason)))

    def _one(self, delivery_id: str, settle: Settle) -> asyncio.Future[None]:
        future: asyncio.Future[None] = self._loop.create_future()
        self._send(settle, [(delivery_id, future)])
        return future

    def _flush_acks(self) -> None:
        waiters, self._acks = self._acks, []
        if waiters:
            self._send(Settle(ack=AckAction(delivery_ids=[delivery_id for delivery_id, _ in waiters])), waiters)

    def _send(self, settle: Settle, waiters: list[_Waiter]) -> None:
        if not self._writable:
            error = _stale(self._closing)
            for _, future in waiters:
                if not future.done():
                    future.set_exception(error)
            return
        settle.request_id = self._next_id
        self._next_id += 1
        self._pending[settle.request_id] = waiters
        self._requests.put_nowait(ConsumeRequest(settle=settle))

    async def _outgoing(self) -> AsyncIterator[ConsumeRequest]:
        while (request := await self._requests.get()) is not None:
            yield request

    async def _read(self, started: Callable[[], None], deliver: Callable[[list[Message]], None]) -> None:
        try:
            async for response in self._subscriber.consume(self._outgoing(), headers=self._headers):
                self._handle(response, started, deliver)
        except Exception as error:  # every way the stream can end is handled here
            if not self._closing:
                raise to_cebus_error(error, self._url) from error
        finally:
            self._writable = False
            self._requests.put_nowait(None)
            self._fail_pending()

    def _handle(
        self, response: ConsumeResponse, started: Callable[[], None], deliver: Callable[[list[Message]], None]
    ) -> None:
        kind = response.WhichOneof("response")
        if kind == "deliveries":
            deliver([Message(delivery, self) for delivery in response.deliveries.deliveries])
        elif kind == "settled":
            self._settled(response.settled)
        elif kind == "started":
            started()

    def _settled(self, result: SettleResult) -> None:
        waiters = self._pending.pop(result.request_id, [])
        failures = {failure.delivery_id: failure for failure in result.failures}
        for delivery_id, future in waiters:
            if future.done():
                continue
            failure = failures.get(delivery_id)
            if failure is None:
                future.set_result(None)
            else:
                future.set_exception(CebusError(code_of(failure.code), failure.message))

    def _fail_pending(self) -> None:
        """Settles sent and not confirmed when the stream ended: their outcome is unknown."""
        pending, self._pending = self._pending, {}
        for waiters in pending.values():
            for _, future in waiters:
                if not future.done():
                    future.set_exception(_outcome_unknown())
