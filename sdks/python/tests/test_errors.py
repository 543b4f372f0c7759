from __future__ import annotations

import pytest

import cebus


def test_one_code_table_in_grpc_order_and_one_set_of_permanent_codes():
    assert len(cebus.CODES) == 16
    assert (cebus.CODES[0], cebus.CODES[4], cebus.CODES[15]) == ("canceled", "not_found", "unauthenticated")
    assert cebus.PERMANENT_CODES == {
        "not_found",
        "invalid_argument",
        "permission_denied",
        "unauthenticated",
        "failed_precondition",
        "unimplemented",
    }
    assert cebus.CebusError("not_found", "x").permanent and not cebus.CebusError("unavailable", "x").permanent


async def test_a_unary_error_carries_the_field_at_fault(broker):
    async with cebus.Client(broker.url) as client:
        with pytest.raises(cebus.CebusError) as error:
            await client.admin.create_topic("no spaces allowed")
    assert (error.value.code, error.value.field, error.value.retry_after) == ("invalid_argument", "topic.name", None)
    assert "not valid" in error.value.message
    assert str(error.value).startswith("invalid_argument: ")


async def test_a_batch_refused_on_the_publish_stream_carries_the_field_at_fault(broker, unique):
    async with cebus.Client(broker.url) as client:
        topic = unique("orders")
        await client.admin.create_topic(topic)
        with pytest.raises(cebus.CebusError) as error:
            await client.publish(
                topic, [{"type": "t", "source": "/s"}, {"type": "t", "source": "/s", "specversion": "0.3"}]
            )
        with pytest.raises(cebus.CebusError) as missing:
            await client.publish(unique("no-such-topic"), [{"type": "t", "source": "/s"}])
    assert (error.value.code, error.value.field) == ("invalid_argument", "events[1].specversion")
    assert (missing.value.code, missing.value.field) == ("not_found", "topic")
