"""Topics, subscriptions, stats, seeks and dead letters: the broker's AdminService, typed (``client.admin``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, TypeVar

from cebus._gen.cebus.v1 import admin_pb2 as pb
from cebus._gen.cebus.v1.admin_connect import AdminServiceClient
from cebus._gen.cebus.v1.filter_pb2 import Filter
from cebus._gen.cebus.v1.subscription_pb2 import (
    DELIVERY_MODE_AT_LEAST_ONCE,
    DELIVERY_MODE_AT_MOST_ONCE,
)
from cebus._gen.cebus.v1.subscription_pb2 import RetryPolicy as ProtoRetryPolicy
from cebus._gen.cebus.v1.subscription_pb2 import Subscription as ProtoSubscription
from cebus._gen.cebus.v1.topic_pb2 import Topic as ProtoTopic
from cebus.admin_convert import FilterSpec, Seconds, StartAt, to_duration, to_filter, to_position
from cebus.admin_types import (
    DeadLetter,
    DeliveryMode,
    RetryPolicy,
    SubscriptionConfig,
    SubscriptionStats,
    Topic,
    TopicStats,
)
from cebus.errors import CebusError, to_cebus_error

R = TypeVar("R")

_MODES = {"at-least-once": DELIVERY_MODE_AT_LEAST_ONCE, "at-most-once": DELIVERY_MODE_AT_MOST_ONCE}


class Admin:
    """The admin operations of a client. Durations are ``timedelta``s or seconds; every call raises ``CebusError``
    on failure (``not_found``, ``already_exists``, ``invalid_argument`` with the ``field`` at fault, ...)."""

    def __init__(
        self, admin: AdminServiceClient, url: str, headers: Mapping[str, str], check_open: Callable[[], None]
    ) -> None:
        self.raw = admin
        """The generated Connect client of AdminService, for full control."""
        self._url = url
        self._headers = headers
        self._check_open = check_open

    async def create_topic(
        self,
        name: str,
        *,
        partitions: int | None = None,
        retention: Seconds | None = None,
        retention_bytes: int | None = None,
        dedupe_window: Seconds | None = None,
        max_event_bytes: int | None = None,
        if_not_exists: bool = False,
    ) -> Topic:
        """Creates a topic (unset settings take the broker's defaults: 1 partition, 7 days' retention, no size cap,
        2 minutes' dedupe window, 1 MiB events). With ``if_not_exists`` an existing topic with the same settings is
        returned instead of ``already_exists``."""
        topic = ProtoTopic(
            name=name,
            partitions=partitions or 0,
            retention=to_duration(retention),
            retention_bytes=retention_bytes or 0,
            dedupe_window=to_duration(dedupe_window),
            max_event_bytes=max_event_bytes or 0,
        )
        response = await self._call(
            self.raw.create_topic, pb.CreateTopicRequest(topic=topic, if_not_exists=if_not_exists)
        )
        return Topic.from_proto(response.topic)

    async def get_topic(self, name: str) -> Topic:
        return Topic.from_proto((await self._call(self.raw.get_topic, pb.GetTopicRequest(name=name))).topic)

    async def list_topics(self) -> list[Topic]:
        return [Topic.from_proto(t) for t in (await self._call(self.raw.list_topics, pb.ListTopicsRequest())).topics]

    async def delete_topic(self, name: str, *, force: bool = False) -> None:
        """Deletes the topic and its events; refused while subscriptions use it unless ``force``, which deletes them."""
        await self._call(self.raw.delete_topic, pb.DeleteTopicRequest(name=name, force=force))

    async def topic_stats(self, name: str) -> TopicStats:
        response = await self._call(self.raw.get_topic_stats, pb.GetTopicStatsRequest(name=name))
        return TopicStats.from_proto(response.stats)

    async def create_subscription(
        self,
        name: str,
        topic: str,
        *,
        start_at: StartAt | None = None,
        ordered: bool = False,
        delivery_mode: DeliveryMode = "at-least-once",
        ack_deadline: Seconds | None = None,
        max_delivery_attempts: int = 0,
        dead_letter_topic: str = "",
        filter: FilterSpec | Filter | None = None,  # noqa: A002 - the broker's name for it
        retry: RetryPolicy | None = None,
        if_not_exists: bool = False,
    ) -> SubscriptionConfig:
        """Creates a durable subscription to ``topic``, starting at ``start_at`` (default ``"latest"``). ``ordered``
        delivers the events of one partitionkey one at a time, in order; ``max_delivery_attempts`` (0: unlimited)
        and ``term`` send events to ``dead_letter_topic``; ``filter`` keeps only matching events."""
        if delivery_mode not in _MODES:
            raise CebusError(
                "invalid_argument",
                f"delivery_mode={delivery_mode!r}: use 'at-least-once' or 'at-most-once'",
                field="subscription.delivery_mode",
            )
        subscription = ProtoSubscription(
            name=name,
            topic=topic,
            ordered=ordered,
            delivery_mode=_MODES[delivery_mode],
            ack_deadline=to_duration(ack_deadline),
            max_delivery_attempts=max_delivery_attempts,
            dead_letter_topic=dead_letter_topic,
            filter=None if filter is None else to_filter(filter, "subscription.filter"),
            start_position=None if start_at is None else to_position(start_at, "subscription.start_position"),
            retry_policy=None if retry is None else _retry_policy(retry),
        )
        request = pb.CreateSubscriptionRequest(subscription=subscription, if_not_exists=if_not_exists)
        return SubscriptionConfig.from_proto((await self._call(self.raw.create_subscription, request)).subscription)

    async def get_subscription(self, name: str) -> SubscriptionConfig:
        response = await self._call(self.raw.get_subscription, pb.GetSubscriptionRequest(name=name))
        return SubscriptionConfig.from_proto(response.subscription)

    async def list_subscriptions(self, topic: str | None = None) -> list[SubscriptionConfig]:
        """Every subscription, or those of ``topic``."""
        response = await self._call(self.raw.list_subscriptions, pb.ListSubscriptionsRequest(topic=topic or ""))
        return [SubscriptionConfig.from_proto(s) for s in response.subscriptions]

    async def delete_subscription(self, name: str) -> None:
        await self._call(self.raw.delete_subscription, pb.DeleteSubscriptionRequest(name=name))

    async def subscription_stats(self, name: str) -> SubscriptionStats:
        response = await self._call(self.raw.get_subscription_stats, pb.GetSubscriptionStatsRequest(name=name))
        return SubscriptionStats.from_proto(response.stats)

    async def seek(self, subscription: str, to: StartAt) -> None:
        """Moves the subscription's cursor: events from ``to`` on are delivered (again), events before it count as
        acked, and deliveries in flight are dropped."""
        request = pb.SeekRequest(subscription=subscription, position=to_position(to, "position"))
        await self._call(self.raw.seek, request)

    async def list_dead_letters(self, subscription: str, *, limit: int | None = None) -> list[DeadLetter]:
        """The subscription's dead letters with their events, oldest first (at most ``limit``, default 100)."""
        request = pb.ListDeadLettersRequest(subscription=subscription, limit=limit or 0)
        return [DeadLetter.from_proto(d) for d in (await self._call(self.raw.list_dead_letters, request)).dead_letters]

    async def redrive_dead_letters(self, subscription: str, *, event_ids: Iterable[str] | None = None) -> int:
        """Delivers dead letters again to their original subscription only (all of them, or those with these event
        ids), attempts counted from 1 again; returns how many."""
        request = pb.RedriveDeadLettersRequest(subscription=subscription, event_ids=list(event_ids or ()))
        return (await self._call(self.raw.redrive_dead_letters, request)).redriven

    async def _call(self, method: Callable[..., Awaitable[R]], request: Any) -> R:
        self._check_open()
        try:
            return await method(request, headers=self._headers)
        except Exception as error:
            raise to_cebus_error(error, self._url) from error


def _retry_policy(retry: RetryPolicy) -> ProtoRetryPolicy:
    return ProtoRetryPolicy(
        minimum_backoff=to_duration(retry.minimum_backoff),
        maximum_backoff=to_duration(retry.maximum_backoff),
        multiplier=retry.multiplier,
        jitter=retry.jitter,
    )
