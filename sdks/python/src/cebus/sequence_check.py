"""Order checks on what a consumer receives (docs/sdk-contract.md, "Sequence checks").

The broker stamps each delivered event with the CloudEvents ``sequence`` attribute: its offset in its partition.
On an ordered subscription the broker hands out a key's events one at a time in offset order, so among first
deliveries (attempt 1) a key's offsets only grow. A first delivery that breaks that is reported as a ``sequence``
status: ``repeat`` (the same offset again) or ``out-of-order`` (a lower one). Redeliveries are not checked. A seek
back makes earlier events come again as first deliveries, so expect reports after one. Only the last offset of the
``max_keys`` most recently seen keys is kept."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Literal, Protocol


@dataclass(frozen=True)
class SequenceAnomaly:
    """A key's first delivery at ``offset`` that repeats or goes below ``previous``, its highest offset before."""

    anomaly: Literal["repeat", "out-of-order"]
    partition: int
    key: str
    offset: int
    previous: int


class Sequenced(Protocol):
    partition: int
    offset: int
    attempt: int

    @property
    def key(self) -> str | None: ...


class SequenceCheck:
    def __init__(self, max_keys: int = 100_000) -> None:
        self._max_keys = max_keys
        self._last: OrderedDict[tuple[int, str], int] = OrderedDict()

    def check(self, delivery: Sequenced) -> SequenceAnomaly | None:
        """The anomaly this delivery shows, if any; remembers it either way."""
        key = delivery.key
        if key is None or delivery.attempt != 1:
            return None
        ident = (delivery.partition, key)
        previous = self._last.pop(ident, None)
        self._last[ident] = delivery.offset if previous is None else max(previous, delivery.offset)
        if len(self._last) > self._max_keys:
            self._last.popitem(last=False)
        if previous is None or delivery.offset > previous:
            return None
        anomaly: Literal["repeat", "out-of-order"] = "repeat" if delivery.offset == previous else "out-of-order"
        return SequenceAnomaly(anomaly, delivery.partition, key, delivery.offset, previous)
