#!/usr/bin/env python3
"""The Python client under test: drives the Python SDK (sdks/python) through its public API only, speaking the
size-delimited client protocol (cebus.conformance.v1) on stdin/stdout. Logs go to stderr."""

from __future__ import annotations

import asyncio
import struct
import sys

import cebus
from cebus._gen.cebus.conformance.v1.client_pb2 import ClientCommand, ClientEvent, CommandResult, PublishOutcome

client: cebus.Client | None = None
subscriptions: dict[str, cebus.Subscription] = {}
messages: dict[str, cebus.Message] = {}
# Idempotent subscribers share what this client process has processed (the helper's in-process store).
processed = cebus.MemoryProcessedEvents()
tasks: set[asyncio.Task] = set()


def emit(event: ClientEvent) -> None:
    data = event.SerializeToString()
    sys.stdout.buffer.write(struct.pack(">I", len(data)) + data)
    sys.stdout.buffer.flush()


def report(subscriber: str, message: cebus.Message, redundant: bool) -> None:
    event = ClientEvent()
    d = event.delivery
    d.subscriber, d.delivery_id, d.attempt = subscriber, message.delivery_id, message.attempt
    d.partition, d.offset, d.redundant = message.partition, message.offset, redundant
    d.event.CopyFrom(message.proto)
    if message.lease_deadline is not None:
        d.lease_deadline.FromDatetime(message.lease_deadline)
    emit(event)


def require_client() -> cebus.Client:
    if client is None:
        raise cebus.CebusError("failed_precondition", "send a connect command first")
    return client


async def consume(subscriber: str, subscription: cebus.Subscription, once: bool) -> None:
    # The runner settles every delivery; the helper only decides whether the event is processed again.
    async def effect(message: cebus.Message) -> None:
        report(subscriber, message, False)

    handle = cebus.idempotent(processed, effect, ack=False)
    try:
        async for message in subscription:
            messages[f"{subscriber}/{message.delivery_id}"] = message
            if not once:
                report(subscriber, message, False)
            elif not await handle(message):
                report(subscriber, message, True)
    except Exception as error:  # noqa: BLE001
        emit(ClientEvent(notice=f"subscriber {subscriber} ended: {error}"))


async def live(subscription: cebus.Subscription) -> None:
    """Returns once the subscription's stream is open (or failed, or 5 s passed): the runner's next step (a publish)
    then meets a live consumer, so the first deliveries are not slowed by the stream's setup while their leases run."""
    try:
        await asyncio.wait_for(anext(subscription.status(), None), 5)
    except asyncio.TimeoutError:
        pass


def seconds(duration) -> float | None:
    return duration.ToMilliseconds() / 1000 if duration.ByteSize() else None


async def run(command: ClientCommand, result: CommandResult) -> None:
    global client
    kind = command.WhichOneof("command")
    if kind == "connect":
        if client:
            await client.close()
        subscriptions.clear()
        client = cebus.Client(command.connect.url)
    elif kind == "publish":
        c = command.publish
        published = await require_client().publish(
            c.topic, list(c.events), timeout=c.timeout_ms / 1000 if c.timeout_ms else None
        )
        for p in published:
            result.published.append(PublishOutcome(partition=p.partition, offset=p.offset, duplicate=p.duplicate))
    elif kind == "subscribe":
        c = command.subscribe
        options = {"max_outstanding": c.max_outstanding} if c.max_outstanding else {}
        subscription = require_client().subscribe(c.subscription, **options)
        subscriptions[c.subscriber] = subscription
        spawn(consume(c.subscriber, subscription, c.idempotent))
        await live(subscription)
    elif kind == "settle":
        c = command.settle
        key = f"{c.subscriber}/{c.delivery_id}"
        message = messages.get(key)
        if message is None:
            raise cebus.CebusError("not_found", f"no delivery {key} was received")
        # kept after a settle: a second settle of the message must be refused by the SDK itself (settle once)
        action = c.WhichOneof("action")
        if action == "ack":
            await message.ack()
        elif action == "nack":
            await message.nack(seconds(c.nack.delay))
        elif action == "extend":
            await message.extend(seconds(c.extend.extension))
        else:
            await message.term(c.term.reason)
    elif kind == "unsubscribe":
        subscription = subscriptions.pop(command.unsubscribe.subscriber, None)
        if subscription:
            await subscription.close()
    else:
        raise cebus.CebusError("unimplemented", f"unknown command {kind}")


async def answer(command: ClientCommand) -> None:
    result = CommandResult(id=command.id)
    try:
        await run(command, result)
    except Exception as error:  # noqa: BLE001
        e = error if isinstance(error, cebus.CebusError) else cebus.CebusError("unknown", str(error))
        result = CommandResult(id=command.id, error_code=e.code, error_message=e.message)
    emit(ClientEvent(result=result))


def spawn(coroutine) -> None:
    task = asyncio.get_running_loop().create_task(coroutine)
    tasks.add(task)
    task.add_done_callback(tasks.discard)


async def main() -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 26)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin.buffer)
    while True:
        try:
            header = await reader.readexactly(4)
            frame = await reader.readexactly(struct.unpack(">I", header)[0])
        except asyncio.IncompleteReadError:
            break
        command = ClientCommand()
        command.ParseFromString(frame)
        # Commands run concurrently (a slow settle must not hold up a publish); results carry the command id.
        spawn(answer(command))
    if client:
        await client.close()


if __name__ == "__main__":
    asyncio.run(main())
