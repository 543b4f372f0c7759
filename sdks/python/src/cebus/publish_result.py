"""Where a published event was stored."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from cebus._gen.cebus.v1.publisher_pb2 import PublishResult as ProtoPublishResult
from cebus._gen.io.cloudevents.v1.cloudevents_pb2 import CloudEvent as ProtoCloudEvent


@dataclass(frozen=True)
class PublishResult:
    """Where an event was stored; ``duplicate`` means an earlier publish of the same (source, id) within the topic's
    dedupe window won, and nothing new was stored (``partition`` and ``offset`` are the original's)."""

    id: str
    partition: int
    offset: int
    duplicate: bool


Send = Callable[[str, list[ProtoCloudEvent]], Awaitable[list[PublishResult]]]
"""Publishes one batch to a topic, all or nothing, and returns one result per event, in order."""


def results_of(events: Sequence[ProtoCloudEvent], results: Sequence[ProtoPublishResult]) -> list[PublishResult]:
    return [
        PublishResult(id=event.id, partition=r.partition, offset=r.offset, duplicate=r.duplicate)
        for event, r in zip(events, results, strict=False)
    ]
