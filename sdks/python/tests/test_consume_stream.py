"""The Consume stream's edge cases that a real broker does not produce on demand, against a real Connect server: a
stream that breaks with a settle unconfirmed, a broker that does not end the stream after a clean close."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from asgi_server import asgi_server
from connectrpc.code import Code
from connectrpc.errors import ConnectError
from connectrpc.request import RequestContext

import cebus
from cebus._gen.cebus.v1.subscriber_connect import SubscriberService, SubscriberServiceASGIApplication
from cebus._gen.cebus.v1.subscriber_pb2 import (
    ConsumeRequest,
    ConsumeResponse,
    ConsumeStarted,
    Delivery,
    DeliveryBatch,
)
from cebus._gen.io.cloudevents.v1.cloudevents_pb2 import CloudEvent


class OneDelivery(SubscriberService):
    """Starts each stream and delivers one event. With ``breaks`` the stream breaks at the first settle, and ends
    when the client half-closes it; without, settles go unanswered and a half-closed stream stays open until
    ``release`` is set."""

    def __init__(self, breaks: bool) -> None:
        self.breaks = breaks
        self.streams = 0
        self.settles: list[str] = []
        self.release = asyncio.Event()

    async def consume(self, request: AsyncIterator[ConsumeRequest], ctx: RequestContext):
        self.streams += 1
        await anext(request)
        yield ConsumeResponse(started=ConsumeStarted(consumer_id=f"c{self.streams}"))
        event = CloudEvent(id="e1", source="/s", spec_version="1.0", type="t")
        delivery = Delivery(delivery_id=f"d{self.streams}", attempt=self.streams, event=event)
        yield ConsumeResponse(deliveries=DeliveryBatch(deliveries=[delivery]))
        async for message in request:
            self.settles.append(message.settle.WhichOneof("action"))
            if self.breaks:
                raise ConnectError(Code.UNAVAILABLE, "connection reset")
        if not self.breaks:
            await self.release.wait()  # half-closed by the client: a broker that does not end the stream


async def test_a_settle_unconfirmed_when_the_stream_breaks_fails_with_unavailable_and_the_subscription_reconnects():
    service = OneDelivery(breaks=True)
    async with asgi_server(SubscriberServiceASGIApplication(service)) as url, cebus.Client(url) as client:
        subscription = client.subscribe("billing")
        message = await asyncio.wait_for(anext(subscription), 20)
        with pytest.raises(cebus.CebusError) as unknown:
            await message.ack()
        assert unknown.value.code == "unavailable" and "may or may not have been applied" in unknown.value.message
        redelivered = await asyncio.wait_for(anext(subscription), 20)
        assert (redelivered.delivery_id, service.streams) == ("d2", 2)
        await subscription.close()
        kinds = [s.kind for s in subscription.statuses]
        assert kinds[:4] == ["connected", "disconnected", "reconnecting", "connected"]
        broke = subscription.statuses[1].error
        assert broke is not None and (broke.code, broke.message) == ("unavailable", "connection reset")


async def test_a_close_the_broker_does_not_answer_cancels_the_stream_after_3_s_and_fails_waiting_settles():
    service = OneDelivery(breaks=False)
    async with asgi_server(SubscriberServiceASGIApplication(service)) as url, cebus.Client(url) as client:
        try:
            subscription = client.subscribe("billing")
            message = await asyncio.wait_for(anext(subscription), 20)
            nack = message.nack()
            await asyncio.sleep(0)  # the nack is on its way; the server never confirms it
            started = asyncio.get_running_loop().time()
            await asyncio.wait_for(subscription.close(), 20)
            assert asyncio.get_running_loop().time() - started >= 3
            with pytest.raises(cebus.CebusError) as unknown:
                await nack
            assert unknown.value.code == "unavailable"
            assert service.settles == ["nack"] and service.streams == 1
        finally:
            service.release.set()
