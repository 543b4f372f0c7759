"""A real Connect server in the test's event loop (connect-python's ASGI application under Hypercorn, HTTP/2 with
prior knowledge like the broker), for what a real broker does not do on demand: lack PublishStream, break a stream
with answers outstanding, never end a stream."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator

from hypercorn.asyncio import serve
from hypercorn.config import Config


@contextlib.asynccontextmanager
async def asgi_server(app: object) -> AsyncIterator[str]:
    """Serves ``app`` on a free port of 127.0.0.1 while the block runs; yields its URL."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    config = Config()
    config.bind = [f"fd://{listener.detach()}"]  # Hypercorn owns (and closes) the socket from here on
    config.graceful_timeout = 0.1
    config.loglevel = "WARNING"
    stop = asyncio.Event()
    server = asyncio.get_running_loop().create_task(serve(app, config, shutdown_trigger=stop.wait))  # type: ignore[arg-type]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop.set()
        await server
