from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest

import cebus


async def next_message(subscription: cebus.Subscription) -> cebus.Message:
    return await asyncio.wait_for(anext(subscription), 20)


async def test_topics_are_created_read_listed_counted_and_deleted(broker, unique):
    async with cebus.Client(broker.url) as client:
        name = unique("orders")
        settings = {
            "partitions": 3,
            "retention": timedelta(days=1),
            "retention_bytes": 10_000_000,
            "dedupe_window": 60,
            "max_event_bytes": 4096,
        }
        created = await client.admin.create_topic(name, **settings)
        assert (created.name, created.partitions, created.retention) == (name, 3, timedelta(days=1))
        assert (created.retention_bytes, created.dedupe_window, created.max_event_bytes) == (
            10_000_000,
            timedelta(seconds=60),
            4096,
        )
        assert created.create_time is not None and created.create_time.tzinfo is not None
        assert await client.admin.get_topic(name) == created
        assert await client.admin.create_topic(name, **settings, if_not_exists=True) == created
        assert name in [t.name for t in await client.admin.list_topics()]
        await client.publish(name, [{"type": "t", "source": "/s", "partitionkey": "k", "data": "x"}] * 2)
        stats = await client.admin.topic_stats(name)
        assert (stats.topic, stats.event_count, len(stats.partitions)) == (name, 2, 3)
        assert sum(p.end_offset for p in stats.partitions) == 2
        await client.admin.delete_topic(name)
        with pytest.raises(cebus.CebusError) as gone:
            await client.admin.get_topic(name)
        assert gone.value.code == "not_found"


async def test_deleting_a_topic_in_use_needs_force_which_deletes_its_subscriptions(broker, unique):
    async with cebus.Client(broker.url) as client:
        topic, name = unique("orders"), unique("billing")
        await client.admin.create_topic(topic)
        await client.admin.create_subscription(name, topic)
        with pytest.raises(cebus.CebusError) as in_use:
            await client.admin.delete_topic(topic)
        assert in_use.value.code == "failed_precondition"
        await client.admin.delete_topic(topic, force=True)
        assert name not in [s.name for s in await client.admin.list_subscriptions()]


async def test_subscriptions_keep_every_setting_and_are_listed_counted_and_deleted(broker, unique):
    async with cebus.Client(broker.url) as client:
        topic, dead, name = unique("orders"), unique("dead"), unique("billing")
        for t in (topic, dead):
            await client.admin.create_topic(t, partitions=2)
        retry = cebus.RetryPolicy(timedelta(seconds=2), timedelta(seconds=30), 3.0, 0.2)
        created = await client.admin.create_subscription(
            name,
            topic,
            start_at={0: 0, 1: 0},
            ordered=True,
            ack_deadline=timedelta(seconds=45),
            max_delivery_attempts=4,
            dead_letter_topic=dead,
            filter={"all": [{"prefix": {"type": "order."}}, {"not": {"exact": {"source": "/test"}}}]},
            retry=retry,
        )
        assert (created.topic, created.ordered, created.ack_deadline) == (topic, True, timedelta(seconds=45))
        assert (created.max_delivery_attempts, created.dead_letter_topic, created.retry) == (4, dead, retry)
        assert created.filter == {"all": [{"prefix": {"type": "order."}}, {"not": {"exact": {"source": "/test"}}}]}
        assert (created.start_at, created.delivery_mode) == ({0: 0, 1: 0}, "at-least-once")
        assert await client.admin.get_subscription(name) == created
        other = await client.admin.create_subscription(unique("audit"), topic, delivery_mode="at-most-once")
        assert other.delivery_mode == "at-most-once"
        assert sorted(s.name for s in await client.admin.list_subscriptions(topic)) == sorted([name, other.name])
        stats = await client.admin.subscription_stats(name)
        assert (stats.subscription, stats.backlog, stats.in_flight, stats.consumers) == (name, 0, 0, 0)
        await client.admin.delete_subscription(other.name)
        with pytest.raises(cebus.CebusError) as gone:
            await client.admin.get_subscription(other.name)
        assert gone.value.code == "not_found"


async def test_a_filter_delivers_only_matching_events(broker, unique):
    async with cebus.Client(broker.url) as client:
        topic, name = unique("orders"), unique("billing")
        await client.admin.create_topic(topic)
        await client.admin.create_subscription(name, topic, start_at="earliest", filter={"prefix": {"type": "order."}})
        await client.publish(
            topic, [{"type": "user.joined", "source": "/s"}, {"type": "order.paid", "source": "/s", "id": "o"}]
        )
        async with client.subscribe(name) as subscription:
            assert (await next_message(subscription)).id == "o"


async def test_seek_moves_the_cursor_to_earliest_latest_a_time_or_offsets(broker, unique):
    async with cebus.Client(broker.url) as client:
        topic, name = unique("orders"), unique("billing")
        await client.admin.create_topic(topic)
        await client.admin.create_subscription(name, topic, start_at="latest")
        await client.publish(topic, [{"type": "t", "source": "/s", "id": f"e{n}"} for n in range(3)])
        between = datetime.now(timezone.utc)
        await client.publish(topic, [{"type": "t", "source": "/s", "id": f"e{n}"} for n in range(3, 5)])

        async def first_after(to: cebus.StartAt) -> str:
            await client.admin.seek(name, to)
            async with client.subscribe(name) as subscription:
                return (await next_message(subscription)).id

        assert await first_after("earliest") == "e0"
        assert await first_after({0: 1}) == "e1"
        assert await first_after(between) == "e3"
        await client.admin.seek(name, "latest")
        await client.publish(topic, {"type": "t", "source": "/s", "id": "new"})
        async with client.subscribe(name) as subscription:
            assert (await next_message(subscription)).id == "new"
        with pytest.raises(cebus.CebusError) as naive:
            await client.admin.seek(name, datetime.now())
        assert (naive.value.code, naive.value.field) == ("invalid_argument", "position")


async def test_dead_letters_are_listed_and_redriven_to_their_subscription(broker, unique):
    async with cebus.Client(broker.url) as client:
        topic, dead, name = unique("orders"), unique("dead"), unique("billing")
        await client.admin.create_topic(topic)
        await client.admin.create_topic(dead)
        await client.admin.create_subscription(name, topic, start_at="earliest", dead_letter_topic=dead)
        await client.publish(topic, [{"type": "t", "source": "/s", "id": i, "data": {"n": i}} for i in ("a", "b")])
        async with client.subscribe(name) as subscription:
            for message in [await next_message(subscription) for _ in range(2)]:
                await message.term("bad data")
        letters = await client.admin.list_dead_letters(name)
        assert sorted((d.id, d.reason, d.attempts) for d in letters) == [("a", "bad data", 1), ("b", "bad data", 1)]
        assert sorted(d.data["n"] for d in letters) == ["a", "b"]
        assert letters[0].event.get_type() == "t" and letters[0].dead_letter_time is not None
        assert len(await client.admin.list_dead_letters(name, limit=1)) == 1
        assert await client.admin.redrive_dead_letters(name, event_ids=["b"]) == 1
        async with client.subscribe(name) as subscription:
            again = await next_message(subscription)
            assert (again.id, again.attempt) == ("b", 1)
            await again.ack()


async def test_bad_admin_input_is_refused_with_its_field_before_anything_is_sent(broker, unique):
    async with cebus.Client(broker.url) as client:
        topic = unique("orders")
        await client.admin.create_topic(topic)
        for options, field in (
            ({"filter": {"regex": {"type": ".*"}}}, "subscription.filter"),
            ({"delivery_mode": "exactly-once"}, "subscription.delivery_mode"),
            ({"start_at": "middle"}, "subscription.start_position"),
        ):
            with pytest.raises(cebus.CebusError) as refused:
                await client.admin.create_subscription(unique("billing"), topic, **options)
            assert (refused.value.code, refused.value.field) == ("invalid_argument", field)
        assert await client.admin.list_subscriptions(topic) == []
