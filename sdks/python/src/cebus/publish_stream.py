"""Publishing over the PublishStream RPC: one long-lived stream carries every batch, which saves the per-call cost of a
unary Publish (headers, a new HTTP/2 stream, the handler's setup) on both sides."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping

from cebus._gen.cebus.v1.publisher_connect import PublisherServiceClient
from cebus._gen.cebus.v1.publisher_pb2 import PublishStreamRequest, PublishStreamResponse
from cebus._gen.io.cloudevents.v1.cloudevents_pb2 import CloudEvent as ProtoCloudEvent
from cebus.errors import CebusError, error_of_failure, to_cebus_error
from cebus.publish_result import PublishResult, Send, results_of

log = logging.getLogger("cebus")

CLOSE_GRACE = 3.0
"""Seconds a closing stream waits for the answers in flight before it is cancelled."""

_ADVICE = (
    "this batch was not answered before the publish stream ended, so it may or may not be stored: publish it again "
    "with the same event ids (the broker's dedupe makes that safe)"
)

_Waiter = tuple[str, list[ProtoCloudEvent], "asyncio.Future[list[PublishResult]]"]


class _Stream:
    """One open PublishStream: its requests, the batches awaiting answers, and the task reading the answers."""

    def __init__(self) -> None:
        self.requests: asyncio.Queue[PublishStreamRequest | None] = asyncio.Queue()
        self.pending: dict[int, _Waiter] = {}
        self.reader: asyncio.Task[None] | None = None
        self.cancelled = False

    async def outgoing(self) -> AsyncIterator[PublishStreamRequest]:
        while (request := await self.requests.get()) is not None:
            yield request

    def end(self) -> None:
        """Half-closes the stream: the broker answers what it has and ends it."""
        self.requests.put_nowait(None)


class StreamPublisher:
    """Sends batches over one PublishStream, opened on the first send and again after it broke; each batch is a
    request answered by its id, many at once. A broker without PublishStream answers ``unimplemented``: then
    ``fallback`` (the unary Publish) carries that batch and every later one."""

    def __init__(self, client: PublisherServiceClient, url: str, headers: Mapping[str, str], fallback: Send) -> None:
        self._client = client
        self._url = url
        self._headers = headers
        self._fallback = fallback
        self._stream: _Stream | None = None
        self._next_id = 1
        self._unary = False

    async def send(self, topic: str, events: list[ProtoCloudEvent]) -> list[PublishResult]:
        if self._unary:
            return await self._fallback(topic, events)
        stream = self._stream or self._open()
        request_id = self._next_id
        self._next_id += 1
        future: asyncio.Future[list[PublishResult]] = asyncio.get_running_loop().create_future()
        stream.pending[request_id] = (topic, events, future)
        stream.requests.put_nowait(PublishStreamRequest(request_id=request_id, topic=topic, events=events))
        return await future

    async def close(self) -> None:
        """Half-closes the stream and waits for the answers in flight (up to 3 s, then cancels it)."""
        stream, self._stream = self._stream, None
        if stream is None or stream.reader is None:
            return
        stream.end()
        done, _ = await asyncio.wait({stream.reader}, timeout=CLOSE_GRACE)
        if not done:
            stream.cancelled = True
            stream.reader.cancel()
            await asyncio.wait({stream.reader})
        _fail_pending(stream, _broken(None))  # a reader cancelled before it ran answered nothing

    def _open(self) -> _Stream:
        stream = _Stream()
        stream.reader = asyncio.get_running_loop().create_task(self._read(stream))
        self._stream = stream
        return stream

    async def _read(self, stream: _Stream) -> None:
        """Settles each batch with its answer; when the stream ends, what is still pending fails (or falls back)."""
        failure: CebusError | None = None
        try:
            async for answer in self._client.publish_stream(stream.outgoing(), headers=self._headers):
                _answer(stream, answer)
        except Exception as error:  # noqa: BLE001 - every way the stream can end is handled below
            failure = to_cebus_error(error, self._url)
        finally:
            if self._stream is stream:
                self._stream = None
            stream.end()
        if failure is not None and failure.code == "unimplemented" and not stream.cancelled:
            log.info("the broker at %s has no PublishStream; publishing with the unary Publish", self._url)
            self._unary = True
            for topic, events, future in stream.pending.values():
                _chain(asyncio.ensure_future(self._fallback(topic, events)), future)
        else:
            _fail_pending(stream, _broken(failure))
        stream.pending.clear()


def _answer(stream: _Stream, answer: PublishStreamResponse) -> None:
    waiter = stream.pending.pop(answer.request_id, None)
    if waiter is None:
        return
    _, events, future = waiter
    if future.done():
        return
    if answer.HasField("failure"):
        future.set_exception(error_of_failure(answer.failure))
    elif len(answer.results) != len(events):
        future.set_exception(
            CebusError("internal", f"the broker answered {len(answer.results)} results for {len(events)} events")
        )
    else:
        future.set_result(results_of(events, answer.results))


def _fail_pending(stream: _Stream, error: CebusError) -> None:
    for _, _, future in stream.pending.values():
        if not future.done():
            future.set_exception(error)
    stream.pending.clear()


def _chain(source: asyncio.Future[list[PublishResult]], target: asyncio.Future[list[PublishResult]]) -> None:
    def copy(done: asyncio.Future[list[PublishResult]]) -> None:
        if target.done():
            return
        if done.cancelled():
            target.cancel()
        elif (error := done.exception()) is not None:
            target.set_exception(error)
        else:
            target.set_result(done.result())

    source.add_done_callback(copy)


def _broken(cause: CebusError | None) -> CebusError:
    """The error of a batch whose answer was lost with the stream: unavailable, its outcome unknown."""
    if cause is None:
        return CebusError("unavailable", f"the broker ended the publish stream; {_ADVICE}")
    return CebusError("unavailable", f"{cause.message}; {_ADVICE}", retry_after=cause.retry_after)
