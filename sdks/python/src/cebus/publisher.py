"""How a client publishes: single events through per-topic batchers, batches over the publish stream (or the unary
Publish for calls with their own timeout), and waits while the broker refuses for load."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from cebus._gen.cebus.v1.publisher_connect import PublisherServiceClient
from cebus._gen.cebus.v1.publisher_pb2 import PublishRequest
from cebus._gen.io.cloudevents.v1.cloudevents_pb2 import CloudEvent as ProtoCloudEvent
from cebus.backoff import retry_while_exhausted
from cebus.errors import CebusError, to_cebus_error
from cebus.publish_batcher import Batching, PublishBatcher
from cebus.publish_result import PublishResult, results_of
from cebus.publish_stream import StreamPublisher


class Publisher:
    """The publishing half of a client. ``batching`` None sends each call on its own; ``backpressure_retry`` is how
    many seconds in all a publish may wait, retrying, while the broker refuses it for load (0: never)."""

    def __init__(
        self,
        client: PublisherServiceClient,
        url: str,
        headers: Mapping[str, str],
        batching: Batching | None,
        backpressure_retry: float,
    ) -> None:
        self._client = client
        self._url = url
        self._headers = headers
        self._batching = batching
        self._budget = backpressure_retry
        self._stream = StreamPublisher(client, url, headers, self._unary)
        self._batchers: dict[str, PublishBatcher] = {}

    @property
    def batching(self) -> bool:
        return self._batching is not None

    def publish_one(self, topic: str, event: ProtoCloudEvent) -> asyncio.Future[PublishResult]:
        """Publishes one event in the topic's next batch (batching must be on)."""
        batcher = self._batchers.get(topic)
        if batcher is None:
            options = self._batching or Batching()
            batcher = self._batchers[topic] = PublishBatcher(lambda events: self.send(topic, events), options)
        return batcher.publish(event)

    async def send(
        self, topic: str, events: list[ProtoCloudEvent], timeout: float | None = None
    ) -> list[PublishResult]:
        """Publishes one batch, all or nothing: on the stream, retried under backpressure; or, with a timeout, as one
        unary call that is never retried (the deadline is the call's)."""
        if timeout is not None:
            return await self._unary(topic, events, timeout)
        return await retry_while_exhausted(lambda: self._stream.send(topic, events), self._budget)

    async def close(self) -> None:
        """Sends what the batchers gathered, waits for every answer, then closes the publish stream."""
        for batcher in list(self._batchers.values()):
            await batcher.flush()
        await self._stream.close()

    async def _unary(
        self, topic: str, events: list[ProtoCloudEvent], timeout: float | None = None
    ) -> list[PublishResult]:
        try:
            response = await self._client.publish(
                PublishRequest(topic=topic, events=events),
                headers=self._headers,
                timeout_ms=None if timeout is None else max(1, round(timeout * 1000)),
            )
        except Exception as error:
            raise _timed_out(to_cebus_error(error, self._url), timeout) from error
        if len(response.results) != len(events):
            raise CebusError(
                "internal", f"the broker answered {len(response.results)} results for {len(events)} events"
            )
        return results_of(events, response.results)


def _timed_out(error: CebusError, timeout: float | None) -> CebusError:
    if error.code != "deadline_exceeded" or timeout is None:
        return error
    return CebusError(
        "deadline_exceeded",
        f"the publish did not finish within its timeout of {timeout:g} s, so it may or may not be stored: publish it "
        "again with the same event ids (the broker's dedupe makes that safe)",
    )
