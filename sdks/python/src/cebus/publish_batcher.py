"""Single-event publishes of one topic gathered into batches, like a Kafka producer's linger.ms and batch.size."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from cebus._gen.io.cloudevents.v1.cloudevents_pb2 import CloudEvent as ProtoCloudEvent
from cebus.errors import CebusError
from cebus.events import validate_event
from cebus.publish_result import PublishResult


@dataclass(frozen=True)
class Batching:
    """How single-event publishes are gathered into batches (``Client(url, batching=Batching(...))``)."""

    linger: float = 0.0
    """Seconds to wait for more events before a batch goes. 0: on the next iteration of the event loop, so a lone
    publish on an idle client goes at once and the publishes made in one iteration share a batch. While
    ``max_in_flight`` batches are out, events gather anyway."""
    max_events: int = 500
    """Most events in one batch."""
    max_bytes: int = 1024 * 1024
    """Most bytes in one batch (the encoded events' sizes)."""
    max_in_flight: int = 2
    """Most batches of one topic on their way at once; later batches wait for a slot, and grow meanwhile."""

    def __post_init__(self) -> None:
        if self.linger < 0 or min(self.max_events, self.max_bytes, self.max_in_flight) < 1:
            raise CebusError(
                "invalid_argument",
                f"{self!r} is not a valid batching: use linger >= 0 and max_events, max_bytes, max_in_flight >= 1",
            )


SendBatch = Callable[[list[ProtoCloudEvent]], Awaitable[list[PublishResult]]]
_Pending = tuple[ProtoCloudEvent, "asyncio.Future[PublishResult]"]


class PublishBatcher:
    """Gathers the single publishes of one topic into batches: a batch goes when it is full, or when ``linger``
    passed since its first event and a send slot is free; at most ``max_in_flight`` are out at once. Each caller
    gets its own event's result. Events are validated first, so a malformed event fails alone instead of failing
    the batch it would have joined."""

    def __init__(self, send: SendBatch, options: Batching) -> None:
        self._send = send
        self._options = options
        self._loop = asyncio.get_running_loop()
        self._open: list[_Pending] = []
        self._open_bytes = 0
        self._timer: asyncio.Handle | None = None
        self._lingered = False  # the open batch waited its linger and goes as soon as a slot frees
        self._ready: deque[list[_Pending]] = deque()  # sealed batches waiting for a slot
        self._in_flight: set[asyncio.Task[None]] = set()

    def publish(self, event: ProtoCloudEvent) -> asyncio.Future[PublishResult]:
        future: asyncio.Future[PublishResult] = self._loop.create_future()
        try:
            validate_event(event)
        except CebusError as error:
            future.set_exception(error)
            return future
        size = event.ByteSize()
        if self._open and self._open_bytes + size > self._options.max_bytes:
            self._seal()
        self._open.append((event, future))
        self._open_bytes += size
        if len(self._open) >= self._options.max_events:
            self._seal()
        elif self._timer is None and not self._lingered:
            self._timer = self._schedule()
        return future

    async def flush(self) -> None:
        """Sends what is gathered now and waits until every batch is answered."""
        self._seal()
        while self._in_flight or self._ready:
            await asyncio.gather(*self._in_flight, return_exceptions=True)

    def _schedule(self) -> asyncio.Handle:
        if self._options.linger > 0:
            return self._loop.call_later(self._options.linger, self._on_linger)
        return self._loop.call_soon(self._on_linger)

    def _on_linger(self) -> None:
        # While every slot is busy the batch keeps growing instead of queueing behind the others as a small one.
        self._timer = None
        if len(self._in_flight) < self._options.max_in_flight:
            self._seal()
        else:
            self._lingered = True

    def _seal(self) -> None:
        """Closes the open batch: it joins the ready ones, which go while slots are free."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._lingered = False
        if self._open:
            self._ready.append(self._open)
            self._open = []
            self._open_bytes = 0
        self._dispatch()

    def _dispatch(self) -> None:
        while self._ready and len(self._in_flight) < self._options.max_in_flight:
            task = self._loop.create_task(self._send_batch(self._ready.popleft()))
            self._in_flight.add(task)
            task.add_done_callback(self._slot_freed)

    def _slot_freed(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        if not self._ready and self._lingered:
            self._seal()
        else:
            self._dispatch()

    async def _send_batch(self, batch: list[_Pending]) -> None:
        try:
            results = await self._send([event for event, _ in batch])
            if len(results) != len(batch):
                raise CebusError("internal", f"the broker answered {len(results)} results for {len(batch)} events")
        except CebusError as error:
            _fail(batch, error)
        except asyncio.CancelledError:
            _fail(
                batch, CebusError("canceled", "the client stopped before this publish was answered; publish it again")
            )
            raise
        except Exception as error:  # noqa: BLE001 - a bug must fail its callers, not leave them waiting
            _fail(batch, CebusError("internal", f"publishing failed unexpectedly: {error!r}"))
        else:
            for (_, future), result in zip(batch, results, strict=False):
                if not future.done():
                    future.set_result(result)


def _fail(batch: list[_Pending], error: CebusError) -> None:
    for _, future in batch:
        if not future.done():
            future.set_exception(error)
