"""Waiting before trying again: publishes the broker refused for load, and reconnects of a subscription."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

from cebus.errors import CebusError

T = TypeVar("T")

DEFAULT_RETRY_AFTER = 0.1
"""The wait when a refusal carries no hint, in seconds."""


async def retry_while_exhausted(run: Callable[[], Awaitable[T]], budget: float) -> T:
    """Runs ``run`` again while the broker refuses it for load (``resource_exhausted``), waiting its retry hint with
    ±50% jitter (so refused clients do not all come back at once), ``budget`` seconds of waiting at most in all; then
    the last refusal is the caller's. A publish is safe to send again: the broker dedupes on (source, id)."""
    waited = 0.0
    while True:
        try:
            return await run()
        except CebusError as error:
            if error.code != "resource_exhausted":
                raise
            wait = (error.retry_after or DEFAULT_RETRY_AFTER) * (0.5 + random.random())
            if waited + wait > budget:
                raise
            waited += wait
            await asyncio.sleep(wait)


class Reconnects:
    """The waits between a subscription's streams: 0.1 s doubling to 5 s, with half jitter (a wait of ``d`` is
    ``d/2 + random(0, d/2)``), back to 0.1 s once a stream opened."""

    FIRST = 0.1
    LAST = 5.0

    def __init__(self) -> None:
        self.attempt = 0
        self._delay = self.FIRST

    def opened(self) -> None:
        self.attempt = 0
        self._delay = self.FIRST

    def next(self) -> float:
        """Counts an attempt and returns how long to wait before it."""
        self.attempt += 1
        wait = self._delay / 2 + random.random() * self._delay / 2
        self._delay = min(self._delay * 2, self.LAST)
        return wait
