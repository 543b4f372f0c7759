from __future__ import annotations

import asyncio

import pytest
from wire import Wire

import cebus


def event(n: int | str, **extra) -> dict:
    return {"type": "t", "source": "/s", "id": f"e{n}", "data": f"payload {n}", **extra}


async def stored(client: cebus.Client, topic: str) -> int:
    return (await client.admin.topic_stats(topic)).event_count


async def test_a_single_publish_returns_its_result_and_a_list_returns_one_per_event(broker, unique):
    async with cebus.Client(broker.url) as client:
        topic = unique("orders")
        await client.admin.create_topic(topic)
        one = await client.publish(topic, event(1))
        many = await client.publish(topic, [event(2), event(3)])
        assert one == cebus.PublishResult(id="e1", partition=0, offset=0, duplicate=False)
        assert [(r.id, r.offset) for r in many] == [("e2", 1), ("e3", 2)]


async def test_single_publishes_of_one_iteration_travel_in_full_batches_and_each_caller_gets_its_own_result(
    broker, unique
):
    wire = Wire()
    async with cebus.Client(broker.url, interceptors=[wire]) as client:
        topic = unique("orders")
        await client.admin.create_topic(topic)
        futures = [client.publish(topic, event(n)) for n in range(1000)]
        results = await asyncio.gather(*futures)
        assert [r.id for r in results] == [f"e{n}" for n in range(1000)]
        assert len({(r.partition, r.offset) for r in results}) == 1000
        assert sorted(len(batch.events) for batch in wire.sent("PublishStream")) == [500, 500]
        assert [name for name, _ in wire.unary] == ["CreateTopic"]
        assert await stored(client, topic) == 1000


async def test_batches_respect_max_events_and_at_most_max_in_flight_are_out_at_once(broker, unique):
    wire = Wire()
    async with cebus.Client(broker.url, interceptors=[wire], batching=cebus.Batching(max_events=10)) as client:
        topic = unique("orders")
        await client.admin.create_topic(topic)
        await asyncio.gather(*(client.publish(topic, event(n)) for n in range(95)))
        batches = [[e.id for e in batch.events] for batch in wire.sent("PublishStream")]
        assert [len(b) for b in batches] == [10] * 9 + [5]
        assert [i for b in batches for i in b] == [f"e{n}" for n in range(95)]
        assert wire.peak_outstanding == 2


async def test_while_every_slot_is_busy_later_publishes_gather_into_the_next_batch(broker, unique):
    wire = Wire()
    async with cebus.Client(broker.url, interceptors=[wire], batching=cebus.Batching(max_in_flight=1)) as client:
        topic = unique("orders")
        await client.admin.create_topic(topic)
        first = client.publish(topic, event(0))
        await asyncio.sleep(0)  # one iteration: the first batch goes, alone
        later = [client.publish(topic, event(n)) for n in range(1, 50)]
        await asyncio.gather(first, *later)
        assert [len(batch.events) for batch in wire.sent("PublishStream")] == [1, 49]


async def test_a_malformed_event_fails_alone_before_it_can_fail_the_batch_it_would_have_joined(broker, unique):
    wire = Wire()
    async with cebus.Client(broker.url, interceptors=[wire]) as client:
        topic = unique("orders")
        await client.admin.create_topic(topic)
        bad = client.publish(topic, {"type": "t", "id": "no-source"})
        good = client.publish(topic, event("ok"))
        with pytest.raises(cebus.CebusError) as error:
            await bad
        assert (error.value.code, error.value.field) == ("invalid_argument", "event.source")
        assert "source is missing" in error.value.message
        assert (await good).id == "eok"
        assert [[e.id for e in batch.events] for batch in wire.sent("PublishStream")] == [["eok"]]


async def test_a_list_is_one_batch_all_or_nothing(broker, unique):
    wire = Wire()
    async with cebus.Client(broker.url, interceptors=[wire]) as client:
        topic = unique("orders")
        await client.admin.create_topic(topic)
        with pytest.raises(cebus.CebusError) as error:
            await client.publish(topic, [event(1), {"source": "/s", "id": "no-type"}, event(3)])
        assert (error.value.code, error.value.field) == ("invalid_argument", "events[1].type")
        assert await stored(client, topic) == 0
        await client.publish(topic, [event(4), event(5)])
        assert [len(batch.events) for batch in wire.sent("PublishStream")] == [3, 2]


async def test_without_batching_each_publish_is_its_own_request(broker, unique):
    wire = Wire()
    async with cebus.Client(broker.url, interceptors=[wire], batching=False) as client:
        topic = unique("orders")
        await client.admin.create_topic(topic)
        await asyncio.gather(*(client.publish(topic, event(n)) for n in range(5)))
        assert [len(batch.events) for batch in wire.sent("PublishStream")] == [1] * 5


async def test_a_publish_with_its_own_timeout_goes_unary(broker, unique):
    wire = Wire()
    async with cebus.Client(broker.url, interceptors=[wire]) as client:
        topic = unique("orders")
        await client.admin.create_topic(topic)
        result = await client.publish(topic, event(1), timeout=10)
        results = await client.publish(topic, [event(2), event(3)], timeout=10)
        assert (result.offset, [r.offset for r in results]) == (0, [1, 2])
        assert [name for name, _ in wire.unary] == ["CreateTopic", "Publish", "Publish"]
        assert wire.sent("PublishStream") == []


async def test_publishing_the_same_source_and_id_again_is_a_duplicate(broker, unique):
    async with cebus.Client(broker.url) as client:
        topic = unique("orders")
        await client.admin.create_topic(topic)
        first = await client.publish(topic, event("same"))
        again = await client.publish(topic, {**event("same"), "data": "other"})
        assert again.duplicate and again.offset == first.offset


async def test_an_event_without_an_id_gets_a_random_uuid4(broker, unique):
    async with cebus.Client(broker.url) as client:
        topic = unique("orders")
        await client.admin.create_topic(topic)
        a, b = await asyncio.gather(
            client.publish(topic, {"type": "t", "source": "/s"}), client.publish(topic, {"type": "t", "source": "/s"})
        )
        assert a.id != b.id and len(a.id) == 36 and a.id[14] == "4"


async def test_bad_options_are_refused_at_once_and_change_nothing(broker, unique):
    with pytest.raises(cebus.CebusError) as batching:
        cebus.Batching(max_events=0)
    assert batching.value.code == "invalid_argument"
    async with cebus.Client(broker.url) as client:
        topic = unique("orders")
        await client.admin.create_topic(topic)
        with pytest.raises(cebus.CebusError) as timeout:
            await client.publish(topic, event(1), timeout=0)
        assert timeout.value.code == "invalid_argument"
        with pytest.raises(cebus.CebusError) as kind:
            await client.publish(topic, 42)  # type: ignore[call-overload]
        assert kind.value.code == "invalid_argument"
        assert await stored(client, topic) == 0
