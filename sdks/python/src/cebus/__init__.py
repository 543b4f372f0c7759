"""Cebus, the CloudEvents bus: an asyncio client over the Connect stubs generated from the broker's contract.

    async with cebus.Client("http://127.0.0.1:8080") as client:
        await client.publish("orders", {"type": "order.created", "source": "/shop", "data": {"id": 42}})
        async for message in client.subscribe("billing"):
            print(message.data); await message.ack()
"""

from cebus.admin import Admin
from cebus.admin_convert import FilterSpec, Seconds, StartAt
from cebus.admin_types import (
    DeadLetter,
    DeliveryMode,
    PartitionStats,
    RetryPolicy,
    SubscriptionConfig,
    SubscriptionStats,
    Topic,
    TopicStats,
)
from cebus.client import Client
from cebus.errors import CODES, PERMANENT_CODES, CebusError, Code
from cebus.events import EventInput, from_proto, to_proto
from cebus.handler import Handler
from cebus.idempotent import MemoryProcessedEvents, ProcessedEvents, idempotent, processed_key
from cebus.message import Message
from cebus.publish_batcher import Batching
from cebus.publish_result import PublishResult
from cebus.sequence_check import SequenceAnomaly
from cebus.status import Status, StatusKind
from cebus.subscription import Subscription

__all__ = [
    "CODES",
    "PERMANENT_CODES",
    "Admin",
    "Batching",
    "CebusError",
    "Client",
    "Code",
    "DeadLetter",
    "DeliveryMode",
    "EventInput",
    "FilterSpec",
    "Handler",
    "MemoryProcessedEvents",
    "Message",
    "PartitionStats",
    "ProcessedEvents",
    "PublishResult",
    "RetryPolicy",
    "Seconds",
    "StartAt",
    "Status",
    "StatusKind",
    "Subscription",
    "SubscriptionConfig",
    "SequenceAnomaly",
    "SubscriptionStats",
    "Topic",
    "TopicStats",
    "from_proto",
    "idempotent",
    "processed_key",
    "to_proto",
]
