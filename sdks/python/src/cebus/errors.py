"""The one error type of the SDK: the broker's code (Connect/gRPC code names), its message, and what a program acts
on: the request field at fault and how long to wait before trying again."""

from __future__ import annotations

import asyncio
from typing import Literal

from connectrpc.code import Code as _ConnectCode
from connectrpc.errors import ConnectError

from cebus._gen.cebus.v1.error_pb2 import ErrorInfo
from cebus._gen.cebus.v1.publisher_pb2 import PublishFailure

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

CODES: tuple[Code, ...] = (
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
)
"""Every code, in gRPC order (canceled is 1, unauthenticated 16)."""

PERMANENT_CODES: frozenset[Code] = frozenset(
    ("not_found", "invalid_argument", "permission_denied", "unauthenticated", "failed_precondition", "unimplemented")
)
"""Codes after which trying again cannot help (a wrong name, a bad request, no permission): a subscription that
meets one ends with it instead of reconnecting."""


class CebusError(Exception):
    """An error with a Cebus code (``"not_found"``, ``"invalid_argument"``, ...) and a message that says what to do.

    ``field`` names the request field at fault (``"topic.name"``, ``"events[2].source"``) when one is; ``retry_after``
    is how many seconds to wait before trying again, when waiting can help (``resource_exhausted`` under load)."""

    def __init__(self, code: Code, message: str, *, field: str | None = None, retry_after: float | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code: Code = code
        self.message = message
        self.field = field
        self.retry_after = retry_after

    @property
    def permanent(self) -> bool:
        """True when retrying or reconnecting cannot help (a wrong name, a bad request, no permission)."""
        return self.code in PERMANENT_CODES

    def __repr__(self) -> str:
        extra = "".join(
            f", {name}={value!r}" for name, value in (("field", self.field), ("retry_after", self.retry_after)) if value
        )
        return f"CebusError({self.code!r}, {self.message!r}{extra})"


def code_of(name: str) -> Code:
    """The code spelled ``name`` on the wire, or ``"unknown"`` for anything else."""
    return name if name in CODES else "unknown"


def _seconds(milliseconds: int) -> float | None:
    return milliseconds / 1000 if milliseconds > 0 else None


def error_of_failure(failure: PublishFailure) -> CebusError:
    """The error of one batch that failed on the publish stream (the same fields a unary Publish error carries)."""
    return CebusError(
        code_of(failure.code),
        failure.message,
        field=failure.field or None,
        retry_after=_seconds(failure.retry_after_ms),
    )


def unreachable(url: str) -> CebusError:
    return CebusError("unavailable", f"cannot reach the Cebus broker at {url}; is `cebus serve` running there?")


def to_cebus_error(error: BaseException, url: str) -> CebusError:
    """Turns what the transport raised into a CebusError; ``url`` names the broker in "cannot reach" messages."""
    if isinstance(error, CebusError):
        return error
    if isinstance(error, ConnectError):
        code = code_of(error.code.value) if isinstance(error.code, _ConnectCode) else "unknown"
        if code == "unavailable" and _unreachable(error):
            return unreachable(url)
        field, retry_after = _error_info(error)
        return CebusError(code, error.message, field=field, retry_after=retry_after)
    if isinstance(error, asyncio.TimeoutError):
        return CebusError("deadline_exceeded", "the call did not finish within its timeout")
    if isinstance(error, (ConnectionError, OSError)):
        return unreachable(url)
    return CebusError("unknown", str(error) or type(error).__name__)


def _error_info(error: ConnectError) -> tuple[str | None, float | None]:
    """The field and retry hint of the error's ``cebus.v1.ErrorInfo`` detail, when it has one."""
    for detail in error.details:
        if detail.Is(ErrorInfo.DESCRIPTOR):
            info = ErrorInfo()
            detail.Unpack(info)
            return info.field or None, _seconds(info.retry_after_ms)
    return None, None


def _unreachable(error: ConnectError) -> bool:
    """True when the transport failed to reach the broker (connect-python raises its error from the transport's);
    an ``unavailable`` the broker itself answered has no such cause and keeps its message."""
    cause = error.__cause__
    if cause is None or isinstance(cause, ConnectError):
        return False
    text = f"{error.message} {cause}".lower()
    return isinstance(cause, ConnectionError) or any(
        s in text for s in ("connect", "refused", "dns", "resolve", "reset", "closed")
    )
