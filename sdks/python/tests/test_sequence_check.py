"""Sequence checks: a key's first deliveries on an ordered subscription only grow; a repeat or a lower offset is
reported as a ``sequence`` status."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import cebus
from cebus.sequence_check import SequenceCheck


@dataclass
class Delivery:
    partition: int
    offset: int
    attempt: int = 1
    key: str | None = "k"


def test_growing_offsets_of_a_key_pass_with_gaps_between():
    check = SequenceCheck()
    assert [check.check(Delivery(0, o)) for o in (0, 3, 7)] == [None, None, None]


def test_a_repeat_and_a_lower_offset_are_reported():
    check = SequenceCheck()
    check.check(Delivery(0, 9))
    repeat = check.check(Delivery(0, 9))
    assert repeat is not None and (repeat.anomaly, repeat.previous) == ("repeat", 9)
    back = check.check(Delivery(0, 5))
    assert back is not None and (back.anomaly, back.offset, back.previous, back.key) == ("out-of-order", 5, 9, "k")
    assert check.check(Delivery(0, 10)) is None  # the highest offset stays the reference


def test_redeliveries_keyless_events_and_other_partitions_are_not_checked():
    check = SequenceCheck()
    check.check(Delivery(0, 9))
    assert check.check(Delivery(0, 9, attempt=2)) is None
    assert check.check(Delivery(0, 1, key=None)) is None
    assert check.check(Delivery(1, 1)) is None


def test_the_least_recently_seen_key_is_forgotten_first():
    check = SequenceCheck(max_keys=2)
    check.check(Delivery(0, 5, key="a"))
    check.check(Delivery(0, 5, key="b"))
    check.check(Delivery(0, 6, key="a"))  # a is now the most recent
    check.check(Delivery(0, 5, key="c"))  # b is forgotten
    assert check.check(Delivery(0, 1, key="a")) is not None
    assert check.check(Delivery(0, 1, key="b")) is None


async def test_an_ordered_subscription_passes_and_a_seek_back_is_reported(broker, unique):
    async with cebus.Client(broker.url) as client:
        topic, name = unique("orders"), unique("billing")
        await client.admin.create_topic(topic, partitions=2)
        await client.admin.create_subscription(name, topic, start_at="earliest", ordered=True)
        events = [{"type": "t", "source": "/s", "id": f"q{i}", "partitionkey": f"key-{i % 3}"} for i in range(12)]
        await client.publish(topic, events)
        subscription = client.subscribe(name, sequence_check=True)
        for _ in range(12):
            message = await asyncio.wait_for(anext(subscription), 20)
            assert message.sequence == str(message.offset).zfill(20) and (message.key or "").startswith("key-")
            await message.ack()
        assert [s for s in subscription.statuses if s.kind == "sequence"] == []
        await client.admin.seek(name, "earliest")
        again = await asyncio.wait_for(anext(subscription), 20)
        await again.ack()
        await subscription.close()
        reports = [s.anomaly for s in subscription.statuses if s.kind == "sequence"]
        assert reports and all(r is not None and r.anomaly == "out-of-order" for r in reports)
        assert any(r is not None and (r.key, r.offset) == (again.key, again.offset) for r in reports)
