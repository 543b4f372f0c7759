"""A live consumer of a subscription: an async iterator of messages that reconnects by itself until closed."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable

from cebus.backoff import Reconnects
from cebus.consume_channel import ConsumeChannel
from cebus.errors import CebusError
from cebus.message import Message
from cebus.sequence_check import SequenceCheck
from cebus.status import Status, StatusFeed

log = logging.getLogger("cebus")


class _End:
    def __init__(self, error: CebusError | None) -> None:
        self.error = error


class Subscription:
    """Iterate with ``async for message in subscription`` and settle each message. When the stream breaks, or the
    broker ends it, the subscription reconnects with backoff (0.1 s doubling to 5 s, half jitter); what it held
    then is redelivered once its lease expires. A permanent error (``not_found``, ...) ends the iteration with that
    error. ``close()`` (or leaving ``async with``) is a clean close: the iteration ends and the broker releases
    every message held unsettled, including those on their way, for redelivery to other consumers at once."""

    def __init__(
        self,
        name: str,
        open_channel: Callable[[], ConsumeChannel],
        ended: Callable[[Subscription], None] = lambda _: None,
        sequence_check: bool = False,
    ) -> None:
        self.name = name
        self._sequence = SequenceCheck() if sequence_check else None
        self._open_channel = open_channel
        self._ended = ended
        self._messages: asyncio.Queue[Message | _End] = asyncio.Queue()
        self._status = StatusFeed()
        self._channel: ConsumeChannel | None = None
        self._closed = False
        self._stop = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._run())

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Message:
        item = await self._messages.get()
        if isinstance(item, _End):
            self._messages.put_nowait(item)  # later calls end too
            if item.error:
                raise item.error
            raise StopAsyncIteration
        return item

    async def __aenter__(self) -> Subscription:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def status(self) -> AsyncIterator[Status]:
        """Every status change in order, from the first, without drops: ``async for status in sub.status()`` waits
        for the next and ends once the subscription has ended. Each call iterates on its own."""
        return self._status.follow()

    @property
    def statuses(self) -> list[Status]:
        """The status changes so far, oldest first."""
        return list(self._status.history)

    async def close(self) -> None:
        """Stops consuming: the iteration ends and the broker releases what this consumer holds unsettled."""
        if self._closed:  # closed before, or ended by a permanent error that the iteration still has to raise
            await asyncio.wait({self._task})
            return
        self._closed = True
        self._stop.set()
        if self._channel is not None:
            await self._channel.close()
        await asyncio.wait({self._task})
        _drain(self._messages)  # released at the broker: no longer ours to process
        self._messages.put_nowait(_End(None))

    async def _run(self) -> None:
        reconnects = Reconnects()
        ending: CebusError | None = None
        try:
            while not self._closed:
                error = await self._stream_once(reconnects)
                if self._closed:
                    break
                if error is not None and error.permanent:
                    self._status.push(Status("error", error))
                    ending = error
                    break
                self._status.push(Status("disconnected", error))
                wait = reconnects.next()
                self._status.push(Status("reconnecting", delay=wait, attempt=reconnects.attempt))
                await self._sleep(wait)
        finally:
            self._closed = True
            self._messages.put_nowait(_End(ending))
            self._status.end()
            self._ended(self)

    async def _stream_once(self, reconnects: Reconnects) -> CebusError | None:
        """Runs one stream to its end: None when the broker ended it, else the error that broke it."""
        channel = self._channel = self._open_channel()

        def started() -> None:
            reconnects.opened()
            self._status.push(Status("connected"))

        try:
            await channel.run(started, self._deliver)
            return None
        except CebusError as error:
            log.debug("subscription %s: stream ended: %s", self.name, error)
            return error

    def _deliver(self, messages: list[Message]) -> None:
        if self._closed:
            return  # a clean close releases them at the broker
        for message in messages:
            anomaly = self._sequence.check(message) if self._sequence is not None else None
            if anomaly is not None:
                self._status.push(Status("sequence", anomaly=anomaly))
            self._messages.put_nowait(message)

    async def _sleep(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._stop.wait(), seconds)
        except asyncio.TimeoutError:
            pass


def _drain(queue: asyncio.Queue[Message | _End]) -> None:
    while not queue.empty():
        queue.get_nowait()
