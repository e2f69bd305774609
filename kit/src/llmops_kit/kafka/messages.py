"""What the consumer loop hands to decoders and handlers: raw records, decoded deliveries, retry policy."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, NamedTuple, TypeVar

from aiokafka import ConsumerRecord

__all__ = ["ConsumedMessage", "Delivery", "RetryPolicy", "to_message"]

T = TypeVar("T")


class ConsumedMessage(NamedTuple):
    """A record as read from Kafka, before any decoding.

    A named tuple, immutable like the frozen dataclass it was, built positionally: a consumer makes one per
    record, and a frozen dataclass's ``__init__`` (one ``object.__setattr__`` per field) cost five times as much
    (docs/adr/0062).
    """

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...]
    timestamp_ms: int


@dataclass(frozen=True, slots=True)
class Delivery(Generic[T]):
    """A decoded message together with where it came from."""

    message: ConsumedMessage
    item: T


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Bounded retries with exponential backoff and jitter."""

    attempts: int = 4
    initial_s: float = 0.1
    max_s: float = 2.0
    transient_pause_s: float = 1.0


def to_message(record: ConsumerRecord[bytes, bytes]) -> ConsumedMessage:
    """The loop's own copy of an aiokafka record (headers as a tuple, a missing value as empty bytes)."""
    return ConsumedMessage(
        record.topic,
        record.partition,
        record.offset,
        record.key,
        record.value or b"",
        tuple(record.headers),  # aiokafka's is a tuple of pairs already: no copy, no generator
        record.timestamp,
    )
