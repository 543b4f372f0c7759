import datetime

from cebus._gen.cebus.v1 import subscription_pb2 as _subscription_pb2
from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from cebus._gen.io.cloudevents.v1 import cloudevents_pb2 as _cloudevents_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class FlowControl(_message.Message):
    __slots__ = ("max_outstanding_events", "max_outstanding_bytes")
    MAX_OUTSTANDING_EVENTS_FIELD_NUMBER: _ClassVar[int]
    MAX_OUTSTANDING_BYTES_FIELD_NUMBER: _ClassVar[int]
    max_outstanding_events: int
    max_outstanding_bytes: int
    def __init__(self, max_outstanding_events: _Optional[int] = ..., max_outstanding_bytes: _Optional[int] = ...) -> None: ...

class ConsumeRequest(_message.Message):
    __slots__ = ("start", "flow", "settle")
    START_FIELD_NUMBER: _ClassVar[int]
    FLOW_FIELD_NUMBER: _ClassVar[int]
    SETTLE_FIELD_NUMBER: _ClassVar[int]
    start: ConsumeStart
    flow: FlowControl
    settle: Settle
    def __init__(self, start: _Optional[_Union[ConsumeStart, _Mapping]] = ..., flow: _Optional[_Union[FlowControl, _Mapping]] = ..., settle: _Optional[_Union[Settle, _Mapping]] = ...) -> None: ...

class ConsumeStart(_message.Message):
    __slots__ = ("subscription", "flow", "consumer_name")
    SUBSCRIPTION_FIELD_NUMBER: _ClassVar[int]
    FLOW_FIELD_NUMBER: _ClassVar[int]
    CONSUMER_NAME_FIELD_NUMBER: _ClassVar[int]
    subscription: str
    flow: FlowControl
    consumer_name: str
    def __init__(self, subscription: _Optional[str] = ..., flow: _Optional[_Union[FlowControl, _Mapping]] = ..., consumer_name: _Optional[str] = ...) -> None: ...

class Settle(_message.Message):
    __slots__ = ("request_id", "ack", "nack", "extend", "term")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ACK_FIELD_NUMBER: _ClassVar[int]
    NACK_FIELD_NUMBER: _ClassVar[int]
    EXTEND_FIELD_NUMBER: _ClassVar[int]
    TERM_FIELD_NUMBER: _ClassVar[int]
    request_id: int
    ack: AckAction
    nack: NackAction
    extend: ExtendAction
    term: TermAction
    def __init__(self, request_id: _Optional[int] = ..., ack: _Optional[_Union[AckAction, _Mapping]] = ..., nack: _Optional[_Union[NackAction, _Mapping]] = ..., extend: _Optional[_Union[ExtendAction, _Mapping]] = ..., term: _Optional[_Union[TermAction, _Mapping]] = ...) -> None: ...

class AckAction(_message.Message):
    __slots__ = ("delivery_ids",)
    DELIVERY_IDS_FIELD_NUMBER: _ClassVar[int]
    delivery_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, delivery_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class NackAction(_message.Message):
    __slots__ = ("delivery_ids", "delay")
    DELIVERY_IDS_FIELD_NUMBER: _ClassVar[int]
    DELAY_FIELD_NUMBER: _ClassVar[int]
    delivery_ids: _containers.RepeatedScalarFieldContainer[str]
    delay: _duration_pb2.Duration
    def __init__(self, delivery_ids: _Optional[_Iterable[str]] = ..., delay: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class ExtendAction(_message.Message):
    __slots__ = ("delivery_ids", "extension")
    DELIVERY_IDS_FIELD_NUMBER: _ClassVar[int]
    EXTENSION_FIELD_NUMBER: _ClassVar[int]
    delivery_ids: _containers.RepeatedScalarFieldContainer[str]
    extension: _duration_pb2.Duration
    def __init__(self, delivery_ids: _Optional[_Iterable[str]] = ..., extension: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class TermAction(_message.Message):
    __slots__ = ("delivery_ids", "reason")
    DELIVERY_IDS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    delivery_ids: _containers.RepeatedScalarFieldContainer[str]
    reason: str
    def __init__(self, delivery_ids: _Optional[_Iterable[str]] = ..., reason: _Optional[str] = ...) -> None: ...

class ConsumeResponse(_message.Message):
    __slots__ = ("started", "deliveries", "settled")
    STARTED_FIELD_NUMBER: _ClassVar[int]
    DELIVERIES_FIELD_NUMBER: _ClassVar[int]
    SETTLED_FIELD_NUMBER: _ClassVar[int]
    started: ConsumeStarted
    deliveries: DeliveryBatch
    settled: SettleResult
    def __init__(self, started: _Optional[_Union[ConsumeStarted, _Mapping]] = ..., deliveries: _Optional[_Union[DeliveryBatch, _Mapping]] = ..., settled: _Optional[_Union[SettleResult, _Mapping]] = ...) -> None: ...

class ConsumeStarted(_message.Message):
    __slots__ = ("consumer_id", "subscription")
    CONSUMER_ID_FIELD_NUMBER: _ClassVar[int]
    SUBSCRIPTION_FIELD_NUMBER: _ClassVar[int]
    consumer_id: str
    subscription: _subscription_pb2.Subscription
    def __init__(self, consumer_id: _Optional[str] = ..., subscription: _Optional[_Union[_subscription_pb2.Subscription, _Mapping]] = ...) -> None: ...

class DeliveryBatch(_message.Message):
    __slots__ = ("deliveries",)
    DELIVERIES_FIELD_NUMBER: _ClassVar[int]
    deliveries: _containers.RepeatedCompositeFieldContainer[Delivery]
    def __init__(self, deliveries: _Optional[_Iterable[_Union[Delivery, _Mapping]]] = ...) -> None: ...

class Delivery(_message.Message):
    __slots__ = ("delivery_id", "attempt", "partition", "offset", "event", "publish_time", "lease_deadline")
    DELIVERY_ID_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    PARTITION_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    PUBLISH_TIME_FIELD_NUMBER: _ClassVar[int]
    LEASE_DEADLINE_FIELD_NUMBER: _ClassVar[int]
    delivery_id: str
    attempt: int
    partition: int
    offset: int
    event: _cloudevents_pb2.CloudEvent
    publish_time: _timestamp_pb2.Timestamp
    lease_deadline: _timestamp_pb2.Timestamp
    def __init__(self, delivery_id: _Optional[str] = ..., attempt: _Optional[int] = ..., partition: _Optional[int] = ..., offset: _Optional[int] = ..., event: _Optional[_Union[_cloudevents_pb2.CloudEvent, _Mapping]] = ..., publish_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., lease_deadline: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class SettleResult(_message.Message):
    __slots__ = ("request_id", "failures")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    FAILURES_FIELD_NUMBER: _ClassVar[int]
    request_id: int
    failures: _containers.RepeatedCompositeFieldContainer[SettleFailure]
    def __init__(self, request_id: _Optional[int] = ..., failures: _Optional[_Iterable[_Union[SettleFailure, _Mapping]]] = ...) -> None: ...

class SettleFailure(_message.Message):
    __slots__ = ("delivery_id", "code", "message")
    DELIVERY_ID_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    delivery_id: str
    code: str
    message: str
    def __init__(self, delivery_id: _Optional[str] = ..., code: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class ReceiveRequest(_message.Message):
    __slots__ = ("subscription", "flow", "consumer_name")
    SUBSCRIPTION_FIELD_NUMBER: _ClassVar[int]
    FLOW_FIELD_NUMBER: _ClassVar[int]
    CONSUMER_NAME_FIELD_NUMBER: _ClassVar[int]
    subscription: str
    flow: FlowControl
    consumer_name: str
    def __init__(self, subscription: _Optional[str] = ..., flow: _Optional[_Union[FlowControl, _Mapping]] = ..., consumer_name: _Optional[str] = ...) -> None: ...

class ReceiveResponse(_message.Message):
    __slots__ = ("consumer_id", "deliveries")
    CONSUMER_ID_FIELD_NUMBER: _ClassVar[int]
    DELIVERIES_FIELD_NUMBER: _ClassVar[int]
    consumer_id: str
    deliveries: _containers.RepeatedCompositeFieldContainer[Delivery]
    def __init__(self, consumer_id: _Optional[str] = ..., deliveries: _Optional[_Iterable[_Union[Delivery, _Mapping]]] = ...) -> None: ...

class EndReceiveRequest(_message.Message):
    __slots__ = ("subscription", "consumer_id")
    SUBSCRIPTION_FIELD_NUMBER: _ClassVar[int]
    CONSUMER_ID_FIELD_NUMBER: _ClassVar[int]
    subscription: str
    consumer_id: str
    def __init__(self, subscription: _Optional[str] = ..., consumer_id: _Optional[str] = ...) -> None: ...

class EndReceiveResponse(_message.Message):
    __slots__ = ("released",)
    RELEASED_FIELD_NUMBER: _ClassVar[int]
    released: int
    def __init__(self, released: _Optional[int] = ...) -> None: ...

class AckRequest(_message.Message):
    __slots__ = ("subscription", "delivery_ids")
    SUBSCRIPTION_FIELD_NUMBER: _ClassVar[int]
    DELIVERY_IDS_FIELD_NUMBER: _ClassVar[int]
    subscription: str
    delivery_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, subscription: _Optional[str] = ..., delivery_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class AckResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class NackRequest(_message.Message):
    __slots__ = ("subscription", "delivery_ids", "delay")
    SUBSCRIPTION_FIELD_NUMBER: _ClassVar[int]
    DELIVERY_IDS_FIELD_NUMBER: _ClassVar[int]
    DELAY_FIELD_NUMBER: _ClassVar[int]
    subscription: str
    delivery_ids: _containers.RepeatedScalarFieldContainer[str]
    delay: _duration_pb2.Duration
    def __init__(self, subscription: _Optional[str] = ..., delivery_ids: _Optional[_Iterable[str]] = ..., delay: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class NackResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ExtendLeaseRequest(_message.Message):
    __slots__ = ("subscription", "delivery_ids", "extension")
    SUBSCRIPTION_FIELD_NUMBER: _ClassVar[int]
    DELIVERY_IDS_FIELD_NUMBER: _ClassVar[int]
    EXTENSION_FIELD_NUMBER: _ClassVar[int]
    subscription: str
    delivery_ids: _containers.RepeatedScalarFieldContainer[str]
    extension: _duration_pb2.Duration
    def __init__(self, subscription: _Optional[str] = ..., delivery_ids: _Optional[_Iterable[str]] = ..., extension: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class ExtendLeaseResponse(_message.Message):
    __slots__ = ("lease_deadline",)
    LEASE_DEADLINE_FIELD_NUMBER: _ClassVar[int]
    lease_deadline: _timestamp_pb2.Timestamp
    def __init__(self, lease_deadline: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class TermRequest(_message.Message):
    __slots__ = ("subscription", "delivery_ids", "reason")
    SUBSCRIPTION_FIELD_NUMBER: _ClassVar[int]
    DELIVERY_IDS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    subscription: str
    delivery_ids: _containers.RepeatedScalarFieldContainer[str]
    reason: str
    def __init__(self, subscription: _Optional[str] = ..., delivery_ids: _Optional[_Iterable[str]] = ..., reason: _Optional[str] = ...) -> None: ...

class TermResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ReadTopicRequest(_message.Message):
    __slots__ = ("topic", "partition", "from_offset", "limit")
    TOPIC_FIELD_NUMBER: _ClassVar[int]
    PARTITION_FIELD_NUMBER: _ClassVar[int]
    FROM_OFFSET_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    topic: str
    partition: int
    from_offset: int
    limit: int
    def __init__(self, topic: _Optional[str] = ..., partition: _Optional[int] = ..., from_offset: _Optional[int] = ..., limit: _Optional[int] = ...) -> None: ...

class ReadTopicResponse(_message.Message):
    __slots__ = ("records", "next_offset")
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    NEXT_OFFSET_FIELD_NUMBER: _ClassVar[int]
    records: _containers.RepeatedCompositeFieldContainer[TopicRecord]
    next_offset: int
    def __init__(self, records: _Optional[_Iterable[_Union[TopicRecord, _Mapping]]] = ..., next_offset: _Optional[int] = ...) -> None: ...

class TopicRecord(_message.Message):
    __slots__ = ("partition", "offset", "event", "publish_time")
    PARTITION_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    PUBLISH_TIME_FIELD_NUMBER: _ClassVar[int]
    partition: int
    offset: int
    event: _cloudevents_pb2.CloudEvent
    publish_time: _timestamp_pb2.Timestamp
    def __init__(self, partition: _Optional[int] = ..., offset: _Optional[int] = ..., event: _Optional[_Union[_cloudevents_pb2.CloudEvent, _Mapping]] = ..., publish_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
