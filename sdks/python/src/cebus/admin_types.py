"""What the admin API returns, as plain Python values (datetimes, timedeltas, dicts) rather than Protobuf messages."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from cloudevents.core.v1.event import CloudEvent

from cebus._gen.cebus.v1 import admin_pb2, subscription_pb2, topic_pb2
from cebus._gen.io.cloudevents.v1.cloudevents_pb2 import CloudEvent as ProtoCloudEvent
from cebus.admin_convert import StartAt, from_duration, from_filter, from_position, from_timestamp
from cebus.events import data_of, from_proto

DeliveryMode = Literal["at-least-once", "at-most-once"]


@dataclass(frozen=True)
class Topic:
    """A named, append-only log split into partitions (unset durations are the broker's defaults)."""

    name: str
    partitions: int
    retention: timedelta | None
    retention_bytes: int
    dedupe_window: timedelta | None
    max_event_bytes: int
    create_time: datetime | None

    @classmethod
    def from_proto(cls, pb: topic_pb2.Topic) -> Topic:
        return cls(
            name=pb.name,
            partitions=pb.partitions,
            retention=from_duration(pb, "retention"),
            retention_bytes=pb.retention_bytes,
            dedupe_window=from_duration(pb, "dedupe_window"),
            max_event_bytes=pb.max_event_bytes,
            create_time=from_timestamp(pb, "create_time"),
        )


@dataclass(frozen=True)
class PartitionStats:
    partition: int
    start_offset: int
    """The oldest retained event's offset (equals ``end_offset`` when the partition is empty)."""
    end_offset: int
    """The offset the next event gets."""
    event_count: int
    bytes: int


@dataclass(frozen=True)
class TopicStats:
    topic: str
    event_count: int
    bytes: int
    partitions: tuple[PartitionStats, ...]

    @classmethod
    def from_proto(cls, pb: topic_pb2.TopicStats) -> TopicStats:
        partitions = tuple(
            PartitionStats(p.partition, p.start_offset, p.end_offset, p.event_count, p.bytes) for p in pb.partitions
        )
        return cls(topic=pb.topic, event_count=pb.event_count, bytes=pb.bytes, partitions=partitions)


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff between delivery attempts (nacks without a delay, expired leases); unset fields are the
    broker's defaults (1 s, 60 s, x2, 0.1 jitter)."""

    minimum_backoff: timedelta | None = None
    maximum_backoff: timedelta | None = None
    multiplier: float = 0.0
    jitter: float = 0.0


@dataclass(frozen=True)
class SubscriptionConfig:
    """A durable subscription to a topic, as the broker keeps it."""

    name: str
    topic: str
    filter: dict[str, Any] | None
    """In the CloudEvents Subscriptions API form (``{"prefix": {"type": "order."}}``); None matches every event."""
    delivery_mode: DeliveryMode
    ordered: bool
    ack_deadline: timedelta | None
    max_delivery_attempts: int
    retry: RetryPolicy | None
    dead_letter_topic: str
    start_at: StartAt | None
    create_time: datetime | None

    @classmethod
    def from_proto(cls, pb: subscription_pb2.Subscription) -> SubscriptionConfig:
        retry = None
        if pb.HasField("retry_policy"):
            r = pb.retry_policy
            retry = RetryPolicy(
                from_duration(r, "minimum_backoff"), from_duration(r, "maximum_backoff"), r.multiplier, r.jitter
            )
        at_most_once = pb.delivery_mode == subscription_pb2.DELIVERY_MODE_AT_MOST_ONCE
        return cls(
            name=pb.name,
            topic=pb.topic,
            filter=from_filter(pb.filter),
            delivery_mode="at-most-once" if at_most_once else "at-least-once",
            ordered=pb.ordered,
            ack_deadline=from_duration(pb, "ack_deadline"),
            max_delivery_attempts=pb.max_delivery_attempts,
            retry=retry,
            dead_letter_topic=pb.dead_letter_topic,
            start_at=from_position(pb.start_position),
            create_time=from_timestamp(pb, "create_time"),
        )


@dataclass(frozen=True)
class SubscriptionStats:
    subscription: str
    backlog: int
    """Events not yet acked and not in flight: never delivered, or waiting to be redelivered."""
    in_flight: int
    """Events delivered and not yet acked, nacked or expired."""
    oldest_unacked_age: timedelta | None
    consumers: int
    """Live consumers on this broker."""

    @classmethod
    def from_proto(cls, pb: subscription_pb2.SubscriptionStats) -> SubscriptionStats:
        return cls(
            subscription=pb.subscription,
            backlog=pb.backlog,
            in_flight=pb.in_flight,
            oldest_unacked_age=from_duration(pb, "oldest_unacked_age"),
            consumers=pb.consumers,
        )


@dataclass(frozen=True)
class DeadLetter:
    """An event in a subscription's dead-letter topic; its attributes carry deadletterreason, deliveryattempts,
    originaltopic, originalsubscription, originalpartition and originaloffset."""

    partition: int
    offset: int
    proto: ProtoCloudEvent = field(repr=False)
    dead_letter_time: datetime | None
    reason: str
    attempts: int

    @property
    def id(self) -> str:
        return self.proto.id

    @property
    def event(self) -> CloudEvent:
        return from_proto(self.proto)

    @property
    def data(self) -> Any:
        return data_of(self.proto)

    @classmethod
    def from_proto(cls, pb: admin_pb2.DeadLetter) -> DeadLetter:
        return cls(
            partition=pb.partition,
            offset=pb.offset,
            proto=pb.event,
            dead_letter_time=from_timestamp(pb, "dead_letter_time"),
            reason=pb.reason,
            attempts=pb.attempts,
        )
