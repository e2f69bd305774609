"""What the consumer loop hands to decoders and handlers: raw records, decoded deliveries, retry policy."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from aiokafka import ConsumerRecord

__all__ = ["ConsumedMessage", "Delivery", "RetryPolicy", "to_message"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ConsumedMessage:
    """A record as read from Kafka, before any decoding."""

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
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        key=record.key,
        value=record.value or b"",
        headers=tuple(record.headers),  # aiokafka's is a tuple of pairs already: no copy, no generator
        timestamp_ms=record.timestamp,
    )
