"""The publish stream's edge cases that a real broker does not produce on demand, against a real Connect server: a
broker without PublishStream, a stream that breaks with answers outstanding, a batch refused on the stream. The
real broker's PublishStream carries every publish of test_publish.py and of the conformance suite."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from asgi_server import asgi_server
from connectrpc.code import Code
from connectrpc.errors import ConnectError
from connectrpc.request import RequestContext

import cebus
from cebus._gen.cebus.v1.publisher_connect import PublisherService, PublisherServiceASGIApplication
from cebus._gen.cebus.v1.publisher_pb2 import (
    PublishFailure,
    PublishRequest,
    PublishResponse,
    PublishResult,
    PublishStreamRequest,
    PublishStreamResponse,
)

EVENT = {"type": "t", "source": "/s", "data": "x"}


def stored(events: list) -> list[PublishResult]:
    return [PublishResult(partition=0, offset=i) for i in range(len(events))]


class UnaryOnly(PublisherService):
    """A broker of the days before PublishStream: its PublishStream answers unimplemented."""

    def __init__(self) -> None:
        self.unary_calls = 0
        self.stream_calls = 0

    async def publish(self, request: PublishRequest, ctx: RequestContext) -> PublishResponse:
        self.unary_calls += 1
        return PublishResponse(results=stored(list(request.events)))

    def publish_stream(self, request: AsyncIterator[PublishStreamRequest], ctx: RequestContext):
        self.stream_calls += 1
        raise ConnectError(Code.UNIMPLEMENTED, "PublishStream is not implemented")


class BreaksFirstStream(UnaryOnly):
    """Its first PublishStream breaks on the first request; later ones answer every request."""

    async def publish_stream(self, request: AsyncIterator[PublishStreamRequest], ctx: RequestContext):
        self.stream_calls += 1
        first = self.stream_calls == 1
        async for message in request:
            if first:
                raise ConnectError(Code.UNAVAILABLE, "connection reset")
            yield PublishStreamResponse(request_id=message.request_id, results=stored(list(message.events)))


class RefusesForLoad(UnaryOnly):
    async def publish_stream(self, request: AsyncIterator[PublishStreamRequest], ctx: RequestContext):
        async for message in request:
            failure = PublishFailure(code="resource_exhausted", message="slow down", field="topic", retry_after_ms=40)
            yield PublishStreamResponse(request_id=message.request_id, failure=failure)


async def test_a_broker_without_publish_stream_gets_unary_publishes_for_good():
    service = UnaryOnly()
    async with asgi_server(PublisherServiceASGIApplication(service)) as url, cebus.Client(url) as client:
        first = await asyncio.gather(client.publish("t", EVENT), client.publish("t", [EVENT, EVENT]))
        again = await client.publish("t", EVENT)
        assert (first[0].offset, len(first[1]), again.offset) == (0, 2, 0)
        assert service.stream_calls == 1
        assert service.unary_calls == 3


async def test_a_broken_stream_fails_its_batches_with_unavailable_and_the_next_publish_opens_a_new_one():
    service = BreaksFirstStream()
    async with asgi_server(PublisherServiceASGIApplication(service)) as url, cebus.Client(url) as client:
        with pytest.raises(cebus.CebusError) as lost:
            await client.publish("t", EVENT)
        assert lost.value.code == "unavailable"
        assert "publish it again with the same event ids" in lost.value.message
        assert (await client.publish("t", EVENT)).offset == 0
        assert (service.stream_calls, service.unary_calls) == (2, 0)


async def test_a_batch_refused_on_the_stream_raises_its_code_field_and_retry_hint():
    server = asgi_server(PublisherServiceASGIApplication(RefusesForLoad()))
    async with server as url, cebus.Client(url, backpressure_retry=0) as client:
        with pytest.raises(cebus.CebusError) as refused:
            await client.publish("t", EVENT)
    error = refused.value
    assert (error.code, error.message, error.field, error.retry_after) == (
        "resource_exhausted",
        "slow down",
        "topic",
        0.04,
    )
