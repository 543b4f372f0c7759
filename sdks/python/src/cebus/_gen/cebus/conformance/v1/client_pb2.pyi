import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from cebus._gen.io.cloudevents.v1 import cloudevents_pb2 as _cloudevents_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ClientCommand(_message.Message):
    __slots__ = ("id", "connect", "publish", "subscribe", "settle", "unsubscribe")
    ID_FIELD_NUMBER: _ClassVar[int]
    CONNECT_FIELD_NUMBER: _ClassVar[int]
    PUBLISH_FIELD_NUMBER: _ClassVar[int]
    SUBSCRIBE_FIELD_NUMBER: _ClassVar[int]
    SETTLE_FIELD_NUMBER: _ClassVar[int]
    UNSUBSCRIBE_FIELD_NUMBER: _ClassVar[int]
    id: int
    connect: ConnectCommand
    publish: PublishCommand
    subscribe: SubscribeCommand
    settle: SettleCommand
    unsubscribe: UnsubscribeCommand
    def __init__(self, id: _Optional[int] = ..., connect: _Optional[_Union[ConnectCommand, _Mapping]] = ..., publish: _Optional[_Union[PublishCommand, _Mapping]] = ..., subscribe: _Optional[_Union[SubscribeCommand, _Mapping]] = ..., settle: _Optional[_Union[SettleCommand, _Mapping]] = ..., unsubscribe: _Optional[_Union[UnsubscribeCommand, _Mapping]] = ...) -> None: ...

class ConnectCommand(_message.Message):
    __slots__ = ("url",)
    URL_FIELD_NUMBER: _ClassVar[int]
    url: str
    def __init__(self, url: _Optional[str] = ...) -> None: ...

class PublishCommand(_message.Message):
    __slots__ = ("topic", "events", "timeout_ms")
    TOPIC_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    topic: str
    events: _containers.RepeatedCompositeFieldContainer[_cloudevents_pb2.CloudEvent]
    timeout_ms: int
    def __init__(self, topic: _Optional[str] = ..., events: _Optional[_Iterable[_Union[_cloudevents_pb2.CloudEvent, _Mapping]]] = ..., timeout_ms: _Optional[int] = ...) -> None: ...

class SubscribeCommand(_message.Message):
    __slots__ = ("subscriber", "subscription", "max_outstanding", "idempotent")
    SUBSCRIBER_FIELD_NUMBER: _ClassVar[int]
    SUBSCRIPTION_FIELD_NUMBER: _ClassVar[int]
    MAX_OUTSTANDING_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENT_FIELD_NUMBER: _ClassVar[int]
    subscriber: str
    subscription: str
    max_outstanding: int
    idempotent: bool
    def __init__(self, subscriber: _Optional[str] = ..., subscription: _Optional[str] = ..., max_outstanding: _Optional[int] = ..., idempotent: _Optional[bool] = ...) -> None: ...

class SettleCommand(_message.Message):
    __slots__ = ("subscriber", "delivery_id", "ack", "nack", "extend", "term")
    class Ack(_message.Message):
        __slots__ = ()
        def __init__(self) -> None: ...
    class Nack(_message.Message):
        __slots__ = ("delay",)
        DELAY_FIELD_NUMBER: _ClassVar[int]
        delay: _duration_pb2.Duration
        def __init__(self, delay: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...
    class Extend(_message.Message):
        __slots__ = ("extension",)
        EXTENSION_FIELD_NUMBER: _ClassVar[int]
        extension: _duration_pb2.Duration
        def __init__(self, extension: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...
    class Term(_message.Message):
        __slots__ = ("reason",)
        REASON_FIELD_NUMBER: _ClassVar[int]
        reason: str
        def __init__(self, reason: _Optional[str] = ...) -> None: ...
    SUBSCRIBER_FIELD_NUMBER: _ClassVar[int]
    DELIVERY_ID_FIELD_NUMBER: _ClassVar[int]
    ACK_FIELD_NUMBER: _ClassVar[int]
    NACK_FIELD_NUMBER: _ClassVar[int]
    EXTEND_FIELD_NUMBER: _ClassVar[int]
    TERM_FIELD_NUMBER: _ClassVar[int]
    subscriber: str
    delivery_id: str
    ack: SettleCommand.Ack
    nack: SettleCommand.Nack
    extend: SettleCommand.Extend
    term: SettleCommand.Term
    def __init__(self, subscriber: _Optional[str] = ..., delivery_id: _Optional[str] = ..., ack: _Optional[_Union[SettleCommand.Ack, _Mapping]] = ..., nack: _Optional[_Union[SettleCommand.Nack, _Mapping]] = ..., extend: _Optional[_Union[SettleCommand.Extend, _Mapping]] = ..., term: _Optional[_Union[SettleCommand.Term, _Mapping]] = ...) -> None: ...

class UnsubscribeCommand(_message.Message):
    __slots__ = ("subscriber",)
    SUBSCRIBER_FIELD_NUMBER: _ClassVar[int]
    subscriber: str
    def __init__(self, subscriber: _Optional[str] = ...) -> None: ...

class ClientEvent(_message.Message):
    __slots__ = ("result", "delivery", "notice")
    RESULT_FIELD_NUMBER: _ClassVar[int]
    DELIVERY_FIELD_NUMBER: _ClassVar[int]
    NOTICE_FIELD_NUMBER: _ClassVar[int]
    result: CommandResult
    delivery: DeliveryEvent
    notice: str
    def __init__(self, result: _Optional[_Union[CommandResult, _Mapping]] = ..., delivery: _Optional[_Union[DeliveryEvent, _Mapping]] = ..., notice: _Optional[str] = ...) -> None: ...

class CommandResult(_message.Message):
    __slots__ = ("id", "error_code", "error_message", "published")
    ID_FIELD_NUMBER: _ClassVar[int]
    ERROR_CODE_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    PUBLISHED_FIELD_NUMBER: _ClassVar[int]
    id: int
    error_code: str
    error_message: str
    published: _containers.RepeatedCompositeFieldContainer[PublishOutcome]
    def __init__(self, id: _Optional[int] = ..., error_code: _Optional[str] = ..., error_message: _Optional[str] = ..., published: _Optional[_Iterable[_Union[PublishOutcome, _Mapping]]] = ...) -> None: ...

class PublishOutcome(_message.Message):
    __slots__ = ("partition", "offset", "duplicate")
    PARTITION_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    partition: int
    offset: int
    duplicate: bool
    def __init__(self, partition: _Optional[int] = ..., offset: _Optional[int] = ..., duplicate: _Optional[bool] = ...) -> None: ...

class DeliveryEvent(_message.Message):
    __slots__ = ("subscriber", "delivery_id", "attempt", "partition", "offset", "event", "redundant", "lease_deadline")
    SUBSCRIBER_FIELD_NUMBER: _ClassVar[int]
    DELIVERY_ID_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    PARTITION_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    REDUNDANT_FIELD_NUMBER: _ClassVar[int]
    LEASE_DEADLINE_FIELD_NUMBER: _ClassVar[int]
    subscriber: str
    delivery_id: str
    attempt: int
    partition: int
    offset: int
    event: _cloudevents_pb2.CloudEvent
    redundant: bool
    lease_deadline: _timestamp_pb2.Timestamp
    def __init__(self, subscriber: _Optional[str] = ..., delivery_id: _Optional[str] = ..., attempt: _Optional[int] = ..., partition: _Optional[int] = ..., offset: _Optional[int] = ..., event: _Optional[_Union[_cloudevents_pb2.CloudEvent, _Mapping]] = ..., redundant: _Optional[bool] = ..., lease_deadline: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
