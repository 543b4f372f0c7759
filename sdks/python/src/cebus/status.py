"""A subscription's connection changes, kept in order and never dropped."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Literal

from cebus.errors import CebusError
from cebus.sequence_check import SequenceAnomaly

StatusKind = Literal["connected", "disconnected", "reconnecting", "error", "sequence"]


@dataclass(frozen=True)
class Status:
    """One change in a subscription's connection:

    - ``connected``: a stream is open;
    - ``disconnected``: it broke (``error`` says why) or the broker ended it (``error`` None, e.g. it is draining);
    - ``reconnecting``: the next stream opens after ``delay`` seconds; ``attempt`` counts from 1 since the last open;
    - ``error``: a permanent ``error`` (``not_found``, ...) ended the subscription; always the last one;
    - ``sequence``: with ``sequence_check``, a key's first delivery out of order (``anomaly``, see sequence_check.py)."""

    kind: StatusKind
    error: CebusError | None = None
    delay: float = 0.0
    attempt: int = 0
    anomaly: SequenceAnomaly | None = None


class StatusFeed:
    """The statuses so far (``history``) and an async iterator over all of them for each reader, from the first,
    that waits for the next and ends when the subscription has ended."""

    def __init__(self) -> None:
        self.history: list[Status] = []
        self._ended = False
        self._waiters: list[asyncio.Future[None]] = []

    def push(self, status: Status) -> None:
        self.history.append(status)
        self._wake()

    def end(self) -> None:
        self._ended = True
        self._wake()

    async def follow(self) -> AsyncIterator[Status]:
        seen = 0
        while True:
            if seen < len(self.history):
                seen += 1
                yield self.history[seen - 1]
            elif self._ended:
                return
            else:
                waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
                self._waiters.append(waiter)
                await waiter

    def _wake(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)
