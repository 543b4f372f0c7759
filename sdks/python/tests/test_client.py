from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest
from cloudevents.core.v1.event import CloudEvent

import cebus


async def setup(client: cebus.Client, unique, **subscription) -> tuple[str, str]:
    topic, name = unique("orders"), unique("billing")
    await client.create_topic(topic, partitions=2)
    await client.create_subscription(name, topic, start_at="earliest", **subscription)
    return topic, name


async def next_message(subscription: cebus.Subscription) -> cebus.Message:
    return await asyncio.wait_for(anext(subscription), 20)


async def test_publish_then_subscribe_delivers_the_event_and_ack_settles_it(broker, unique):
    async with cebus.Client(broker.url) as client:
        topic, name = await setup(client, unique)
        [result] = await client.publish(topic, {"type": "order.created", "source": "/shop", "id": "o-42", "data": {"id": 42}})
        assert (result.id, result.duplicate) == ("o-42", False)
        subscription = client.subscribe(name)
        message = await next_message(subscription)
        assert (message.id, message.data, message.attempt) == ("o-42", {"id": 42}, 1)
        await message.ack()
        with pytest.raises(cebus.CebusError) as second:
            await message.ack()
        assert second.value.code == "failed_precondition"


async def test_a_message_carries_its_lease_deadline(broker, unique):
    async with cebus.Client(broker.url) as client:
        topic, name = await setup(client, unique, ack_deadline=timedelta(seconds=45))
        await client.publish(topic, {"type": "t", "source": "/s", "data": "x"})
        message = await next_message(client.subscribe(name))
        assert message.lease_deadline is not None
        # the broker leased it after storing it and before this process received it (one machine, one clock)
        leased_at = message.lease_deadline - timedelta(seconds=45)
        assert message.publish_time <= leased_at <= datetime.now(timezone.utc)
        await message.ack()


async def test_cloudevents_sdk_events_map_to_and_from_the_wire(broker, unique):
    async with cebus.Client(broker.url) as client:
        topic, name = await setup(client, unique)
        sent = CloudEvent({"type": "order.paid", "source": "/shop", "subject": "o-1", "partitionkey": "c-7"}, {"total": 3})
        await client.publish(topic, sent)
        message = await next_message(client.subscribe(name))
        received = message.event
        assert isinstance(received, CloudEvent)
        assert received.get_id() == sent.get_id()
        assert received.get_subject() == "o-1"
        assert received.get_extension("partitionkey") == "c-7"
        assert received.get_time() == sent.get_time().replace(microsecond=received.get_time().microsecond)
        assert received.get_data() == {"total": 3}
        await message.ack()


async def test_publishing_the_same_source_and_id_again_is_a_duplicate(broker, unique):
    async with cebus.Client(broker.url) as client:
        topic, _ = await setup(client, unique)
        [first] = await client.publish(topic, {"type": "t", "source": "/s", "id": "same", "data": "a"})
        [again] = await client.publish(topic, {"type": "t", "source": "/s", "id": "same", "data": "b"})
        assert again.duplicate and again.offset == first.offset


async def test_nack_redelivers_with_the_next_attempt_and_term_ends_it(broker, unique):
    async with cebus.Client(broker.url) as client:
        topic, name = await setup(client, unique)
        await client.publish(topic, [{"type": "t", "source": "/s", "data": "x"}])
        subscription = client.subscribe(name)
        first = await next_message(subscription)
        await first.nack(0.01)
        again = await next_message(subscription)
        assert (again.id, again.attempt) == (first.id, 2)
        await again.extend(5)
        await again.term("poison")


async def test_ordered_subscription_keeps_key_order_across_a_nack(broker, unique):
    async with cebus.Client(broker.url) as client:
        topic, name = await setup(client, unique, ordered=True)
        await client.publish(topic, [{"type": "t", "source": "/s", "partitionkey": "k", "data": c} for c in "abcde"])
        seen = []
        nacked = False
        async for message in client.subscribe(name):
            seen.append(message.data)
            if message.data == "c" and not nacked:
                nacked = True
                await message.nack(0.01)
                continue
            await message.ack()
            if len(seen) == 6:
                break
        assert "".join(seen) == "abccde"


async def test_an_unknown_subscription_ends_the_iteration_with_not_found(broker):
    async with cebus.Client(broker.url) as client:
        with pytest.raises(cebus.CebusError) as error:
            async for _ in client.subscribe("no-such-subscription"):
                pass
        assert error.value.code == "not_found" and "no-such-subscription" in error.value.message


async def test_an_invalid_event_is_rejected_and_nothing_is_stored(broker, unique):
    async with cebus.Client(broker.url) as client:
        topic, name = await setup(client, unique)
        with pytest.raises(cebus.CebusError) as error:
            await client.publish(topic, [{"type": "t", "source": "/s", "data": "ok"}, {"source": "/s", "data": "no type"}])
        assert error.value.code == "invalid_argument"
        await client.publish(topic, {"type": "t", "source": "/s", "id": "after"})
        message = await next_message(client.subscribe(name))
        assert message.id == "after"


async def test_a_bad_url_or_an_unreachable_broker_gives_one_clear_error():
    with pytest.raises(cebus.CebusError) as bad:
        cebus.Client("localhost:7070")
    assert bad.value.code == "invalid_argument"
    async with cebus.Client("http://127.0.0.1:1") as client:
        with pytest.raises(cebus.CebusError) as unreachable:
            await client.publish("orders", {"type": "t", "source": "/s"})
    assert unreachable.value.code == "unavailable"
    assert "cannot reach the Cebus broker at http://127.0.0.1:1" in unreachable.value.message


async def test_a_dropped_stream_reconnects_and_unacked_events_are_redelivered(durable_broker, unique):
    async with cebus.Client(durable_broker.url) as client:
        topic, name = await setup(client, unique, ack_deadline=timedelta(seconds=1))
        await client.publish(topic, {"type": "t", "source": "/s", "id": "kept"})
        subscription = client.subscribe(name)
        first = await next_message(subscription)
        durable_broker.restart()  # the stream drops with the event unacked
        again = await next_message(subscription)
        assert again.id == "kept" and again.attempt >= 2
        await again.ack()
        with pytest.raises(cebus.CebusError):
            await first.ack()  # the stale delivery
        assert any(s.kind == "reconnecting" for s in subscription.statuses)


async def test_idempotent_runs_each_events_effect_once(broker, unique):
    async with cebus.Client(broker.url) as client:
        topic, name = await setup(client, unique, ack_deadline=timedelta(milliseconds=300))
        await client.publish(topic, {"type": "t", "source": "/s", "id": "once"})
        processed = cebus.MemoryProcessedEvents()
        effects = []

        async def effect(message: cebus.Message) -> None:
            effects.append(message.id)

        handle = cebus.idempotent(processed, effect, ack=False)
        subscription = client.subscribe(name)
        first = await next_message(subscription)
        assert await handle(first)
        again = await next_message(subscription)  # the lease expired unacked: redelivered
        assert not await handle(again)
        await again.ack()
        assert effects == ["once"]


async def test_a_closed_client_refuses_calls_and_releases_its_connections(broker, unique):
    client = cebus.Client(broker.url)
    topic = unique("orders")
    await client.create_topic(topic)
    await client.close()
    for call in (
        lambda: client.publish(topic, {"type": "t", "source": "/s", "data": "x"}),
        lambda: client.create_topic(unique("other")),
    ):
        with pytest.raises(cebus.CebusError) as refused:
            await call()
        assert refused.value.code == "failed_precondition"
    with pytest.raises(cebus.CebusError):
        client.subscribe("billing")
    await client.close()  # a second close is harmless

