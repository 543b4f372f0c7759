from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from cloudevents.core.v1.event import CloudEvent

import cebus


async def setup(client: cebus.Client, unique, **subscription) -> tuple[str, str]:
    topic, name = unique("orders"), unique("billing")
    await client.admin.create_topic(topic, partitions=2)
    await client.admin.create_subscription(name, topic, start_at="earliest", **subscription)
    return topic, name


async def next_message(subscription: cebus.Subscription) -> cebus.Message:
    return await asyncio.wait_for(anext(subscription), 20)


async def test_publish_then_subscribe_delivers_the_event_and_ack_settles_it(broker, unique):
    async with cebus.Client(broker.url) as client:
        topic, name = await setup(client, unique)
        event = {"type": "order.created", "source": "/shop", "id": "o-42", "data": {"id": 42}}
        result = await client.publish(topic, event)
        assert (result.id, result.duplicate) == ("o-42", False)
        async with client.subscribe(name) as subscription:
            message = await next_message(subscription)
            assert (message.id, message.data, message.attempt) == ("o-42", {"id": 42}, 1)
            await message.ack()


async def test_cloudevents_sdk_events_map_to_and_from_the_wire(broker, unique):
    async with cebus.Client(broker.url) as client:
        topic, name = await setup(client, unique)
        attributes = {"type": "order.paid", "source": "/shop", "subject": "o-1", "partitionkey": "c-7"}
        sent = CloudEvent(attributes, {"total": 3})
        await client.publish(topic, sent)
        async with client.subscribe(name) as subscription:
            message = await next_message(subscription)
        received = message.event
        assert isinstance(received, CloudEvent)
        assert received.get_id() == sent.get_id()
        assert received.get_subject() == "o-1"
        assert received.get_extension("partitionkey") == "c-7"
        assert received.get_time() == sent.get_time().replace(microsecond=received.get_time().microsecond)
        assert received.get_data() == {"total": 3}


async def test_ordered_subscription_keeps_key_order_across_a_nack(broker, unique):
    async with cebus.Client(broker.url) as client:
        topic, name = await setup(client, unique, ordered=True)
        await client.publish(topic, [{"type": "t", "source": "/s", "partitionkey": "k", "data": c} for c in "abcde"])
        seen = []
        nacked = False
        async with client.subscribe(name) as subscription:
            async for message in subscription:
                seen.append(message.data)
                if message.data == "c" and not nacked:
                    nacked = True
                    await message.nack(0.01)
                    continue
                await message.ack()
                if len(seen) == 6:
                    break
        assert "".join(seen) == "abccde"


async def test_a_bad_url_or_an_unreachable_broker_gives_one_clear_error():
    with pytest.raises(cebus.CebusError) as bad:
        cebus.Client("localhost:7070")
    assert bad.value.code == "invalid_argument"
    async with cebus.Client("http://127.0.0.1:1") as client:
        for call in (
            lambda: client.publish("orders", {"type": "t", "source": "/s"}),
            lambda: client.publish("orders", {"type": "t", "source": "/s"}, timeout=5),
            lambda: client.admin.list_topics(),
        ):
            with pytest.raises(cebus.CebusError) as unreachable:
                await call()
            assert unreachable.value.code == "unavailable"
            assert "cannot reach the Cebus broker at http://127.0.0.1:1" in unreachable.value.message


async def test_idempotent_runs_each_events_effect_once(broker, unique):
    async with cebus.Client(broker.url) as client:
        topic, name = await setup(client, unique, ack_deadline=timedelta(milliseconds=300))
        await client.publish(topic, {"type": "t", "source": "/s", "id": "once"})
        processed = cebus.MemoryProcessedEvents()
        effects = []

        async def effect(message: cebus.Message) -> None:
            effects.append(message.id)

        handle = cebus.idempotent(processed, effect, ack=False)
        async with client.subscribe(name) as subscription:
            first = await next_message(subscription)
            assert await handle(first)
            again = await next_message(subscription)  # the lease expired unacked: redelivered
            assert not await handle(again)
            await again.ack()
        assert effects == ["once"]


async def test_close_waits_for_the_publishes_in_flight_then_refuses_calls(broker, unique):
    client = cebus.Client(broker.url)
    topic = unique("orders")
    await client.admin.create_topic(topic)
    pending = [client.publish(topic, {"type": "t", "source": "/s", "data": n}) for n in range(100)]
    await client.close()
    assert all(future.done() and not future.exception() for future in pending)
    for call in (
        lambda: client.publish(topic, {"type": "t", "source": "/s", "data": "x"}),
        lambda: client.admin.create_topic(unique("other")),
    ):
        with pytest.raises(cebus.CebusError) as refused:
            await call()
        assert refused.value.code == "failed_precondition"
    with pytest.raises(cebus.CebusError):
        client.subscribe("billing")
    await client.close()  # a second close is harmless
    async with cebus.Client(broker.url) as other:
        assert (await other.admin.topic_stats(topic)).event_count == 100
