"""The one error type of the SDK: the broker's code (Connect/gRPC code names) and its message."""

from __future__ import annotations

import asyncio
from typing import Literal

from connectrpc.code import Code as _ConnectCode
from connectrpc.errors import ConnectError

Code = Literal[
    "canceled",
    "unknown",
    "invalid_argument",
    "deadline_exceeded",
    "not_found",
    "already_exists",
    "permission_denied",
    "resource_exhausted",
    "failed_precondition",
    "aborted",
    "out_of_range",
    "unimplemented",
    "internal",
    "unavailable",
    "data_loss",
    "unauthenticated",
]

_PERMANENT = {
    "not_found",
    "invalid_argument",
    "permission_denied",
    "unauthenticated",
    "failed_precondition",
    "unimplemented",
}


class CebusError(Exception):
    """An error with a Cebus code (``"not_found"``, ``"invalid_argument"``, ...) and a message that says what to do."""

    def __init__(self, code: Code, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code: Code = code
        self.message = message

    @property
    def permanent(self) -> bool:
        """True when retrying or reconnecting cannot help (a wrong name, a bad request, no permission)."""
        return self.code in _PERMANENT


def to_cebus_error(error: BaseException, url: str) -> CebusError:
    """Turns what the transport raised into a CebusError; ``url`` names the broker in "cannot reach" messages."""
    if isinstance(error, CebusError):
        return error
    if isinstance(error, ConnectError):
        code = error.code.value if isinstance(error.code, _ConnectCode) else "unknown"
        if code == "unavailable" and _unreachable(error):
            return CebusError("unavailable", f"cannot reach the Cebus broker at {url}; is `cebus serve` running there?")
        return CebusError(code, error.message)  # type: ignore[arg-type]
    if isinstance(error, asyncio.TimeoutError):
        return CebusError("deadline_exceeded", "the call did not finish within its timeout")
    if isinstance(error, (ConnectionError, OSError)):
        return CebusError("unavailable", f"cannot reach the Cebus broker at {url}; is `cebus serve` running there?")
    return CebusError("unknown", str(error) or type(error).__name__)


def _unreachable(error: ConnectError) -> bool:
    text = f"{error.message} {error.__cause__ or ''}".lower()
    return any(s in text for s in ("connect", "refused", "dns", "resolve", "reset", "closed"))
