"""Exactly-once processing: run each event's effect once across redeliveries."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Protocol

from cebus.message import Message


class ProcessedEvents(Protocol):
    """Records processed events. Implement it over your own store and record inside the effect's transaction."""

    async def run_once(self, key: str, effect: Callable[[], Awaitable[None]]) -> bool:
        """Runs ``effect`` unless ``key`` was processed; returns whether it ran."""
        ...


def processed_key(message: Message) -> str:
    """The key of an event: its (source, id)."""
    return f"{len(message.source)}:{message.source}{message.id}"


class MemoryProcessedEvents:
    """Processed keys in memory (one process; for tests and caches)."""

    def __init__(self) -> None:
        self._done: set[str] = set()
        self._locks: dict[str, asyncio.Lock] = {}

    async def run_once(self, key: str, effect: Callable[[], Awaitable[None]]) -> bool:
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:  # one run of a key at a time; a second waits, then sees it done
            if key in self._done:
                return False
            await effect()
            self._done.add(key)
            return True


def idempotent(
    processed: ProcessedEvents, handler: Callable[[Message], Awaitable[None]], *, ack: bool = True
) -> Callable[[Message], Awaitable[bool]]:
    """Wraps ``handler`` so each event's effect happens once; the wrapper returns False for a duplicate. With
    ``ack`` (the default) the message is acked after the effect (or at once for a duplicate)."""

    async def handle(message: Message) -> bool:
        ran = await processed.run_once(processed_key(message), lambda: handler(message))
        if ack:
            await message.ack()
        return ran

    return handle
