"""What a client puts on the wire, seen through a connect-python interceptor (the public ``interceptors`` option):
every request message of every stream, every unary call, and how many stream requests awaited their answer at
once."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from connectrpc.request import RequestContext


class Wire:
    def __init__(self) -> None:
        self.unary: list[tuple[str, Any]] = []
        """(method name, request) of each unary call."""
        self.streamed: list[tuple[str, Any]] = []
        """(method name, request message) of each message sent on a stream."""
        self.outstanding = 0
        self.peak_outstanding = 0
        """Most PublishStream requests sent and not yet answered at one time."""

    def sent(self, method: str) -> list[Any]:
        return [request for name, request in self.streamed if name == method]

    async def intercept_unary(self, call_next: Callable[..., Awaitable[Any]], request: Any, ctx: RequestContext) -> Any:
        self.unary.append((ctx.method().name, request))
        return await call_next(request, ctx)

    def intercept_bidi_stream(
        self, call_next: Callable[..., AsyncIterator[Any]], request: AsyncIterator[Any], ctx: RequestContext
    ) -> AsyncIterator[Any]:
        return self._answers(call_next(self._requests(request, ctx.method().name), ctx))

    async def _requests(self, requests: AsyncIterator[Any], method: str) -> AsyncIterator[Any]:
        async for request in requests:
            self.streamed.append((method, request))
            if method == "PublishStream":
                self.outstanding += 1
                self.peak_outstanding = max(self.peak_outstanding, self.outstanding)
            yield request

    async def _answers(self, answers: AsyncIterator[Any]) -> AsyncIterator[Any]:
        async for answer in answers:
            if type(answer).__name__ == "PublishStreamResponse":
                self.outstanding -= 1
            yield answer
