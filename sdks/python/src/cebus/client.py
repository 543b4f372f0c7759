"""The Cebus client: publish CloudEvents, consume subscriptions with confirmed settles, administer the broker."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable, Mapping, Sequence
from typing import Any, overload
from urllib.parse import urlparse

from connectrpc.interceptor import Interceptor
from pyqwest import Client as HTTPClient
from pyqwest import HTTPTransport, HTTPVersion

from cebus._gen.cebus.v1.admin_connect import AdminServiceClient
from cebus._gen.cebus.v1.publisher_connect import PublisherServiceClient
from cebus._gen.cebus.v1.subscriber_connect import SubscriberServiceClient
from cebus._gen.cebus.v1.subscriber_pb2 import ConsumeStart, FlowControl
from cebus.admin import Admin
from cebus.consume_channel import ConsumeChannel
from cebus.errors import CebusError
from cebus.events import EventInput, is_event, to_proto
from cebus.handler import Handler, run_handler
from cebus.publish_batcher import Batching
from cebus.publish_result import PublishResult
from cebus.publisher import Publisher
from cebus.subscription import Subscription

DEFAULT_MAX_OUTSTANDING = 100
DEFAULT_MAX_OUTSTANDING_BYTES = 8 * 1024 * 1024


class Client:
    """A client of the broker at ``url`` (``http://host:port`` or ``https://...``). Use it as an async context
    manager, or call ``close()``. It connects on the first call; a bad URL raises ``CebusError("invalid_argument")``
    at once. A plaintext ``http://`` broker is reached over HTTP/2 with prior knowledge (h2c), which the
    bidirectional streams need; ``https://`` negotiates HTTP/2 in TLS.

    ``batching`` tunes how single-event publishes gather into batches (``False`` sends each on its own);
    ``backpressure_retry`` is how many seconds in all a publish may wait, retrying, while the broker refuses it for
    load (0: the refusal is the caller's at once); ``interceptors`` are connect-python interceptors run on every
    call (headers, metrics, tracing)."""

    def __init__(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        batching: Batching | bool = True,
        backpressure_retry: float = 30.0,
        interceptors: Iterable[Interceptor] = (),
    ) -> None:
        parsed = urlparse(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise CebusError("invalid_argument", f"{url!r} is not a broker URL; give one like http://127.0.0.1:8080")
        if backpressure_retry < 0:
            raise CebusError(
                "invalid_argument", f"backpressure_retry={backpressure_retry}: use seconds >= 0 (0: never)"
            )
        self.url = url.rstrip("/")
        self._headers = dict(headers or {})
        # One connection per client, closed by close(). Without it the stubs share connect-python's default
        # transport, which is never closed: its connections were torn down at interpreter exit, which can abort.
        self._transport = HTTPTransport(
            tls_include_system_certs=True,
            http_version=HTTPVersion.HTTP2 if parsed.scheme == "http" else None,
        )
        stubs: dict[str, Any] = {
            "http_client": HTTPClient(self._transport),
            "interceptors": tuple(interceptors),
            # Requests go uncompressed, as from the other Cebus SDKs (connect-go's and connect-es's default);
            # connect-python would gzip every message.
            "send_compression": None,
        }
        self._subscriber = SubscriberServiceClient(self.url, **stubs)
        self.admin = Admin(AdminServiceClient(self.url, **stubs), self.url, self._headers, self._check_open)
        """Topics, subscriptions, stats, seeks and dead letters (see ``cebus.Admin``)."""
        options = Batching() if batching is True else batching or None
        self._publisher = Publisher(
            PublisherServiceClient(self.url, **stubs), self.url, self._headers, options, backpressure_retry
        )
        self._subscriptions: set[Subscription] = set()
        self._closed = False

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Closes the subscriptions (cleanly: the broker releases what they hold), waits for the publishes in flight
        to be answered, closes the publish stream and the connection; later calls raise ``failed_precondition``."""
        if self._closed:
            return
        self._closed = True
        for subscription in list(self._subscriptions):
            await subscription.close()
        await self._publisher.close()
        await self._transport.aclose()
        # pyqwest closes response bodies on its tokio threads and reports back to this event loop. A report that
        # comes while the interpreter exits needs the GIL from a thread Python is finalizing, and the process aborts
        # (SIGABRT, seen under gdb in ContentGenerator::aclose -> take_gil -> pthread_exit). Give those reports a
        # moment to land while the loop still runs: 0 aborts in 100 runs of the README snippet, against 3 in 60.
        await asyncio.sleep(0.05)

    @overload
    def publish(
        self, topic: str, events: EventInput, *, timeout: float | None = None
    ) -> asyncio.Future[PublishResult]: ...

    @overload
    def publish(
        self, topic: str, events: Sequence[EventInput], *, timeout: float | None = None
    ) -> asyncio.Future[list[PublishResult]]: ...

    def publish(self, topic: str, events: Any, *, timeout: float | None = None) -> asyncio.Future[Any]:
        """Publishes one event (the awaitable gives its ``PublishResult``) or a list of events as one batch, all or
        nothing (one result per event, in order), once stored durably. An event is a cloudevents ``CloudEvent``, a
        dict (``{"type", "source", "data", ...}``; ``id`` defaults to a random UUID) or the Protobuf ``CloudEvent``.

        Single events published in one iteration of the event loop travel in one batch, so publishing many and
        gathering them is fast: ``await asyncio.gather(*(client.publish(topic, e) for e in events))``. The event is
        queued as soon as ``publish`` is called, awaited or not. With ``timeout`` (seconds) the call goes on its own,
        fails with ``deadline_exceeded`` after that long and is never retried; a publish that failed with
        ``unavailable`` or ``deadline_exceeded`` may or may not be stored: publish it again with the same ids."""
        loop = asyncio.get_running_loop()
        try:
            self._check_open()
            if timeout is not None and not timeout > 0:
                raise CebusError("invalid_argument", f"timeout={timeout}: give seconds > 0, or None for no deadline")
            single = is_event(events)
            protos = [to_proto(events)] if single else [to_proto(e) for e in events]
        except CebusError as error:
            failed: asyncio.Future[Any] = loop.create_future()
            failed.set_exception(error)
            return failed
        if single and timeout is None and self._publisher.batching:
            return self._publisher.publish_one(topic, protos[0])
        batch = self._publisher.send(topic, protos, timeout)
        return loop.create_task(_first(batch) if single else batch)

    def subscribe(
        self,
        subscription: str,
        *,
        max_outstanding: int = DEFAULT_MAX_OUTSTANDING,
        max_outstanding_bytes: int = DEFAULT_MAX_OUTSTANDING_BYTES,
        consumer_name: str = "",
        sequence_check: bool = False,
    ) -> Subscription:
        """Starts consuming ``subscription``: an async iterator of messages (see ``Subscription``). The broker never
        sends more unsettled messages than ``max_outstanding``, nor more unsettled bytes than
        ``max_outstanding_bytes``. With ``sequence_check`` (for ordered subscriptions) a key's first delivery that
        repeats or goes below an offset of that key already received is reported as a ``sequence`` status. Call it
        inside a running event loop."""
        self._check_open()
        if max_outstanding < 1 or max_outstanding_bytes < 1:
            raise CebusError("invalid_argument", "max_outstanding and max_outstanding_bytes must be at least 1")
        flow = FlowControl(max_outstanding_events=max_outstanding, max_outstanding_bytes=max_outstanding_bytes)
        start = ConsumeStart(subscription=subscription, flow=flow, consumer_name=consumer_name)
        sub = Subscription(
            subscription,
            lambda: ConsumeChannel(self._subscriber, start, self.url, self._headers),
            ended=self._subscriptions.discard,
            sequence_check=sequence_check,
        )
        self._subscriptions.add(sub)
        return sub

    async def consume(
        self,
        subscription: str,
        handler: Handler,
        *,
        concurrency: int = 1,
        max_outstanding: int = DEFAULT_MAX_OUTSTANDING,
        max_outstanding_bytes: int = DEFAULT_MAX_OUTSTANDING_BYTES,
        consumer_name: str = "",
    ) -> None:
        """Runs ``await handler(message)`` on each message of ``subscription``, ``concurrency`` at a time: a handler
        that returns acks its message, one that raises nacks it (unless it settled the message itself). Runs until
        the client closes or the task is cancelled (both close the subscription cleanly), or raises the permanent
        error that ended the subscription (``not_found``, ...)."""
        if concurrency < 1:
            raise CebusError("invalid_argument", f"concurrency={concurrency}: handle at least 1 message at a time")
        sub = self.subscribe(
            subscription,
            max_outstanding=max_outstanding,
            max_outstanding_bytes=max_outstanding_bytes,
            consumer_name=consumer_name,
        )
        try:
            await run_handler(sub, handler, concurrency)
        finally:
            await sub.close()

    def _check_open(self) -> None:
        if self._closed:
            raise CebusError("failed_precondition", "this cebus.Client is closed; create a new one to go on")


async def _first(results: Awaitable[list[PublishResult]]) -> PublishResult:
    return (await results)[0]
