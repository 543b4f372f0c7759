"""Under the broker's backpressure: a broker that holds at most one batch waiting for its store refuses concurrent
publishes beyond it with resource_exhausted and a retry hint of 100 ms."""

from __future__ import annotations

import asyncio

import pytest
from conftest import Broker

import cebus


@pytest.fixture
def strict_broker(tmp_path):
    b = Broker(f"sqlite:{tmp_path}", "--max-pending-publish-bytes", "1")
    yield b
    b.stop()


def batch(prefix: str) -> list[dict]:
    return [{"id": f"{prefix}-{i}", "type": "t", "source": "/s", "data": "x" * 300} for i in range(10)]


async def publish_50(client: cebus.Client, topic: str, **options) -> list:
    calls = (client.publish(topic, batch(f"b{n}"), **options) for n in range(50))
    return await asyncio.gather(*calls, return_exceptions=True)


async def test_a_client_told_not_to_retry_sees_resource_exhausted_with_its_hint_and_nothing_refused_is_stored(
    strict_broker, unique
):
    async with cebus.Client(strict_broker.url, backpressure_retry=0) as client:
        topic = unique("refused")
        await client.admin.create_topic(topic)
        outcomes = await publish_50(client, topic)
        refused = [o for o in outcomes if isinstance(o, cebus.CebusError)]
        assert refused, "the broker refused none of 50 concurrent batches"
        assert {(e.code, e.retry_after) for e in refused} == {("resource_exhausted", 0.1)}
        assert (await client.admin.topic_stats(topic)).event_count == (50 - len(refused)) * 10


async def test_a_publish_with_its_own_timeout_is_not_retried_and_its_unary_error_carries_the_hint(
    strict_broker, unique
):
    async with cebus.Client(strict_broker.url) as client:
        topic = unique("timed")
        await client.admin.create_topic(topic)
        outcomes = await publish_50(client, topic, timeout=30)
        refused = [o for o in outcomes if isinstance(o, cebus.CebusError)]
        assert refused, "the broker refused none of 50 concurrent batches"
        assert {(e.code, e.retry_after) for e in refused} == {("resource_exhausted", 0.1)}
        assert (await client.admin.topic_stats(topic)).event_count == (50 - len(refused)) * 10


async def test_by_default_the_client_backs_off_and_publishes_again_until_every_event_is_stored_once(
    strict_broker, unique
):
    async with cebus.Client(strict_broker.url) as client:
        topic = unique("retried")
        await client.admin.create_topic(topic)
        outcomes = await publish_50(client, topic)
        assert [o for o in outcomes if isinstance(o, BaseException)] == []
        assert [r for results in outcomes for r in results if r.duplicate] == []
        assert (await client.admin.topic_stats(topic)).event_count == 500
