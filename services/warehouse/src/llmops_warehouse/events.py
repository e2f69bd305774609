"""What the warehouse stores for every event type but calls, and the generic read over it.

A :class:`StoredEvent` is one row of an event table (:mod:`llmops_warehouse.tables`): an event as published,
or the delete marker of a tombstone on a compacted topic. Compacted topics are kept as append-only history:
every version is a row, and a delete is one more row (``deleted``), never an update.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec
from llmops_schemas.envelope import TENANT_PATTERN, CloudEvent
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from llmops_warehouse.models import MAX_LIMIT, Cursor, FilterValue, datetime_from_ms, epoch_ms

__all__ = ["EventPage", "EventQuery", "EventRow", "StoredEvent", "next_cursor", "tombstone_id"]

_TOMBSTONES = uuid.UUID("5b0d7c39-3f0b-4d9e-9a51-8f6f3f0c2b7e")


def tombstone_id(topic: str, partition: int, offset: int) -> uuid.UUID:
    """The event id of a tombstone's delete marker: derived from where it lies, so a redelivery dedups."""
    return uuid.uuid5(_TOMBSTONES, f"{topic}/{partition}/{offset}")


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """One row to write into the event table ``table``: the envelope, the payload (None: a tombstone)."""

    table: str
    event_id: uuid.UUID
    tenant_id: str
    event_type: str
    time_ms: int
    source: str = ""
    key_id: str = ""
    subject: str = ""
    trace_id: str = ""
    record_key: str = ""
    payload: Any = None

    @classmethod
    def of(cls, table: str, event: CloudEvent[Any], record_key: str = "") -> StoredEvent:
        """The row of a published event (its id must be a UUID): a pydantic event, or the struct derived from it
        (the passes' fast path, :mod:`llmops_warehouse.pass_events`: same attributes)."""
        return cls(
            table=table,
            event_id=uuid.UUID(event.id),
            tenant_id=event.tenant_id,
            event_type=event.type,
            time_ms=epoch_ms(event.time),
            source=event.source,
            key_id=event.key_id or "",
            subject=event.subject or "",
            trace_id=event.trace_id or "",
            record_key=record_key,
            payload=event.data,
        )

    @property
    def deleted(self) -> bool:
        """A tombstone's delete marker."""
        return self.payload is None

    def payload_json(self) -> str:
        """The payload as stored: its JSON ('' for a delete marker). A derived struct encodes as its model's
        ``model_dump_json`` does (every field, None included; tests/unit/warehouse/test_pass_columns.py)."""
        if isinstance(self.payload, msgspec.Struct):
            return msgspec.json.encode(self.payload).decode()
        return "" if self.payload is None else str(self.payload.model_dump_json())

    def row(self, ingested_at: datetime) -> EventRow:
        """The row as the generic read returns it."""
        return EventRow(
            event_id=str(self.event_id),
            tenant_id=self.tenant_id,
            type=self.event_type,
            time=datetime_from_ms(self.time_ms),
            source=self.source,
            key_id=self.key_id or None,
            subject=self.subject or None,
            trace_id=self.trace_id or None,
            record_key=self.record_key or None,
            deleted=self.deleted,
            data=None if self.payload is None else json.loads(self.payload_json()),
            ingested_at=datetime_from_ms(epoch_ms(ingested_at)),
        )


class EventRow(BaseModel):
    """A stored event: the envelope's attributes and its payload (``data``; null for a delete marker).

    ``deleted`` marks a tombstone of a compacted topic: the entity under ``record_key`` was deleted then.
    ``source`` and ``key_id`` say which producer published it, under which API key.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: str
    tenant_id: str
    type: str
    time: AwareDatetime
    source: str
    key_id: str | None = None
    subject: str | None = None
    trace_id: str | None = None
    record_key: str | None = None
    deleted: bool = False
    data: dict[str, Any] | None = None
    ingested_at: AwareDatetime


class EventPage(BaseModel):
    """One page of stored events, newest first; ``next_cursor`` is None on the last page."""

    model_config = ConfigDict(frozen=True)

    items: list[EventRow]
    next_cursor: str | None = None


class EventQuery(BaseModel):
    """A page of one tenant's events of one table, newest first by the envelope's ``time`` (ties: event id).

    ``start`` is inclusive and ``end`` exclusive; ``filters`` are exact matches on the table's filter
    columns (:attr:`llmops_warehouse.tables.EventTable.filters`).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    tenant_id: str = Field(pattern=TENANT_PATTERN)
    table: str
    start: AwareDatetime | None = None
    end: AwareDatetime | None = None
    filters: dict[str, FilterValue | int] = Field(default_factory=dict)
    limit: int = Field(default=100, ge=1, le=MAX_LIMIT)
    cursor: str | None = Field(default=None, max_length=512)

    @model_validator(mode="after")
    def _window_is_ordered(self) -> EventQuery:
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise ValueError("end must be after start")
        return self

    def decoded_cursor(self) -> Cursor | None:
        """The parsed cursor (its time is the envelope's), or None; raises ``InvalidCursorError``."""
        return None if self.cursor is None else Cursor.decode(self.cursor)


def next_cursor(items: list[EventRow], more: bool) -> str | None:
    """The cursor after the last of ``items`` when there are ``more``."""
    if not more or not items:
        return None
    return Cursor(started_at_ms=epoch_ms(items[-1].time), event_id=items[-1].event_id).encode()
