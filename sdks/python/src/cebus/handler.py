"""The handler form of consuming: a coroutine per message, acked when it returns and nacked when it raises."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from cebus.errors import CebusError
from cebus.message import Message
from cebus.subscription import Subscription

log = logging.getLogger("cebus")

Handler = Callable[[Message], Awaitable[object]]
"""Processes one message. Returning acks it and raising nacks it (redelivery after the subscription's backoff),
unless the handler settled the message itself."""


async def run_handler(subscription: Subscription, handler: Handler, concurrency: int) -> None:
    """Runs ``handler`` on each message of ``subscription``, at most ``concurrency`` at once, until the subscription
    ends: returns when it was closed, raises its permanent error."""
    if concurrency <= 1:
        async for message in subscription:
            await handle(message, handler)
        return
    slots = asyncio.Semaphore(concurrency)
    running: set[asyncio.Task[None]] = set()

    def finished(task: asyncio.Task[None]) -> None:
        running.discard(task)
        slots.release()

    try:
        async for message in subscription:
            await slots.acquire()
            task = asyncio.get_running_loop().create_task(handle(message, handler))
            running.add(task)
            task.add_done_callback(finished)
    finally:
        if running:
            await asyncio.wait(running)


async def handle(message: Message, handler: Handler) -> None:
    """Runs the handler on one message and settles it by the outcome. A settle that fails needs nothing here: the
    lease runs out and the broker redelivers the event."""
    try:
        await handler(message)
    except Exception:  # a failing handler nacks its message and the subscription goes on
        log.warning("handler failed on message %s (attempt %d); nacking it", message.id, message.attempt, exc_info=True)
        if message.settled is None:
            await _quietly(message.nack(), message)
    else:
        if message.settled is None:
            await _quietly(message.ack(), message)


async def _quietly(settle: Awaitable[None], message: Message) -> None:
    try:
        await settle
    except CebusError as error:
        log.info("could not settle message %s (the broker redelivers it): %s", message.id, error)
