"""Cebus, the CloudEvents bus: an asyncio client over the Connect stubs generated from the broker's contract.

    async with cebus.Client("http://127.0.0.1:8080") as client:
        await client.publish("orders", {"type": "order.created", "source": "/shop", "data": {"id": 42}})
        async for message in client.subscribe("billing"):
            print(message.data); await message.ack()
"""

from cebus.client import Client, PublishResult
from cebus.errors import CebusError, Code
from cebus.events import EventInput, from_proto, to_proto
from cebus.idempotent import MemoryProcessedEvents, ProcessedEvents, idempotent, processed_key
from cebus.message import Message
from cebus.subscription import Status, Subscription

__all__ = [
    "CebusError",
    "Client",
    "Code",
    "EventInput",
    "MemoryProcessedEvents",
    "Message",
    "ProcessedEvents",
    "PublishResult",
    "Status",
    "Subscription",
    "from_proto",
    "idempotent",
    "processed_key",
    "to_proto",
]
