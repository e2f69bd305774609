"""Domain models of the warehouse: the stored call, the queries over calls, and their answers.

Every query is scoped to one tenant (``tenant_id`` is required). Times are timezone-aware; the store keeps
millisecond precision (``DateTime64(3, 'UTC')``), so a stored ``started_at`` is the event's value truncated to
the millisecond and converted to UTC.

Metrics (summary and time series) are read from a per-minute rollup, so their windows have minute
resolution: ``start`` is rounded down and ``end`` rounded up to whole minutes when the query is built.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from llmops_schemas.envelope import TENANT_PATTERN, CloudEvent
from llmops_schemas.v1.calls import CallError, CallParameters, ExperimentRef
from llmops_schemas.v1.common import PromptRef
from llmops_schemas.v2 import CallRecorded, ChatMessage, Choice, RequestSummary, TokenUsage
from llmops_schemas.v2.call_parts import tool_arguments
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

__all__ = [
    "MAX_BUCKETS",
    "MAX_LIMIT",
    "MIN_STEP_SECONDS",
    "CallPage",
    "CallQuery",
    "CallRow",
    "Cursor",
    "GroupBy",
    "InvalidCursorError",
    "InvalidEventError",
    "Metrics",
    "MetricsQuery",
    "Origin",
    "OriginFilter",
    "QueryTimeoutError",
    "SummaryRow",
    "TimeseriesPoint",
    "TimeseriesQuery",
    "canonical_event_id",
    "ceil_minute",
    "datetime_from_ms",
    "epoch_ms",
    "event_id_int",
    "floor_minute",
]

MAX_LIMIT = 1000
"""Largest page of calls one query may ask for."""
MAX_BUCKETS = 2000
"""Most buckets one time-series query may produce."""
MIN_STEP_SECONDS = 60
"""Smallest time-series step: the rollup's resolution. Steps are whole multiples of it."""

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MINUTE = timedelta(minutes=1)

GroupBy = Literal["none", "app", "model"]
Status = Literal["ok", "error"]
Origin = Literal["application", "platform"]
OriginFilter = Literal["application", "platform", "all"]
"""Which calls a query looks at: the applications', the platform's own (judges, offline runs), or both."""
FilterValue = Annotated[str, StringConstraints(min_length=1, max_length=256)]


class InvalidCursorError(ValueError):
    """A pagination cursor that this store did not issue (or that was altered). The HTTP layer answers 400."""


class QueryTimeoutError(RuntimeError):
    """A query ran past its server-side time limit (``max_execution_time``). The HTTP layer answers 503."""


class InvalidEventError(ValueError):
    """An event that cannot be stored (its id is not a UUID). Raised before anything of the batch is written."""

    def __init__(self, message: str, event_ids: list[str]) -> None:
        super().__init__(message)
        self.event_ids = event_ids


# --------------------------------------------------------------------------------------------- time helpers


def epoch_ms(value: datetime) -> int:
    """Milliseconds since the Unix epoch of an aware datetime, truncated (floored) like ``DateTime64(3)``.

    From the difference's normalised parts (``seconds`` and ``microseconds`` are never negative, so the floor
    holds before 1970 too): dividing one ``timedelta`` by another costs a quarter more, on every stored call.
    """
    delta = value - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def datetime_from_ms(ms: int) -> datetime:
    """The aware UTC datetime of ``ms`` milliseconds since the epoch."""
    return EPOCH + timedelta(milliseconds=ms)


def to_utc(value: datetime) -> datetime:
    """``value`` in UTC; a naive value (as ClickHouse drivers return UTC columns) is taken to be UTC already."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def floor_minute(value: datetime) -> datetime:
    """The start of the UTC minute holding ``value``."""
    return to_utc(value).replace(second=0, microsecond=0)


def ceil_minute(value: datetime) -> datetime:
    """``value`` rounded up to a whole UTC minute (unchanged when already whole)."""
    floored = floor_minute(value)
    return floored if floored == to_utc(value) else floored + _ONE_MINUTE


_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
"""The canonical spelling, which every producer of the platform writes: read without building a ``uuid.UUID``
(a fifth of the cost, on every stored event; other spellings ``uuid.UUID`` accepts take the slow path)."""


def canonical_event_id(event_id: str) -> str:
    """The canonical (lower-case, hyphenated) spelling of a UUID event id; ``ValueError`` when it is no UUID."""
    return event_id if _CANONICAL_UUID.fullmatch(event_id) else str(uuid.UUID(event_id))


def event_id_int(event_id: str) -> int:
    """The 128-bit integer of a UUID event id (``uuid.UUID(event_id).int``); ``ValueError`` when it is no UUID."""
    if _CANONICAL_UUID.fullmatch(event_id):
        return int(event_id.replace("-", ""), 16)
    return uuid.UUID(event_id).int


# --------------------------------------------------------------------------------------------- the stored call


class CallRow(BaseModel):
    """A stored call as the API returns it: the ``call.recorded.v2`` payload plus where it came from.

    ``event_id`` is the CloudEvent id (canonical UUID spelling), ``tenant_id`` the envelope's tenant,
    ``source`` and ``key_id`` the envelope's producer and the API key it accepted the call under,
    ``received_at`` the envelope's ``time`` and ``ingested_at`` when the warehouse wrote the row. Times are
    UTC with millisecond precision. ``output`` and ``finish_reason`` repeat the first choice's (v1's fields, kept
    for the clients that read them).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: str
    tenant_id: str
    call_id: str
    trace_id: str | None = None
    app: str
    environment: str
    user_id: str | None = None
    session_id: str | None = None
    model: str
    provider: str
    messages: list[ChatMessage]
    choices: list[Choice] = Field(default_factory=list)
    output: str | None = Field(default=None, description="The first choice's output")
    finish_reason: str | None = Field(default=None, description="The first choice's finish reason")
    parameters: CallParameters = Field(default_factory=CallParameters)
    request: RequestSummary | None = None
    usage: TokenUsage | None = None
    started_at: AwareDatetime
    latency_ms: float
    time_to_first_token_ms: float | None = None
    status: Status
    error: CallError | None = None
    prompt: PromptRef | None = None
    experiment: ExperimentRef | None = None
    tags: list[str] = Field(default_factory=list)
    metadata: dict[str, str] = Field(default_factory=dict)
    origin: Origin = "application"
    source: str = Field(default="", description="The producer (envelope source); '' for calls stored before 0003")
    key_id: str | None = None
    received_at: AwareDatetime
    ingested_at: AwareDatetime

    @classmethod
    def from_event(cls, event: CloudEvent[CallRecorded], ingested_at: datetime) -> CallRow:
        """The row a store keeps for ``event`` (times truncated to the millisecond, in UTC)."""
        data = event.data
        return cls(
            event_id=canonical_event_id(event.id),
            tenant_id=event.tenant_id,
            call_id=data.call_id,
            trace_id=data.trace_id,
            app=data.app,
            environment=data.environment,
            user_id=data.user_id,
            session_id=data.session_id,
            model=data.model,
            provider=data.provider,
            messages=list(data.messages),
            choices=list(data.choices),
            output=data.output,
            finish_reason=data.finish_reason,
            parameters=data.parameters,
            request=data.request,
            usage=data.usage,
            started_at=datetime_from_ms(epoch_ms(data.started_at)),
            latency_ms=data.latency_ms,
            time_to_first_token_ms=data.time_to_first_token_ms,
            status=data.status,
            error=data.error,
            prompt=data.prompt,
            experiment=data.experiment,
            tags=list(data.tags),
            metadata=dict(data.metadata),
            origin=data.origin,
            source=event.source,
            key_id=event.key_id,
            received_at=datetime_from_ms(epoch_ms(event.time)),
            ingested_at=datetime_from_ms(epoch_ms(to_utc(ingested_at))),
        )

    def searchable_text(self) -> str:
        """What text search looks at, joined by newlines as the ClickHouse store joins it: every message's text
        (tool results too), the first output, the other choices' outputs, and every tool call's arguments."""
        return "\n".join(
            [
                "\n".join(m.text() for m in self.messages),
                self.output or "",
                "\n".join(choice.output or "" for choice in self.choices[1:]),
                "\n".join(tool_arguments(self.messages, self.choices)),
            ]
        )


# --------------------------------------------------------------------------------------------- pagination


@dataclass(frozen=True)
class Cursor:
    """Keyset position of a page of calls, newest first: the last row returned was ``(started_at, event_id)``."""

    started_at_ms: int
    event_id: str

    _VERSION = 1

    def encode(self) -> str:
        """The opaque token handed to clients (URL-safe base64 of a small JSON array)."""
        raw = json.dumps([self._VERSION, self.started_at_ms, self.event_id], separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")

    @classmethod
    def decode(cls, token: str) -> Cursor:
        """Parse a token from :meth:`encode`; anything else raises :class:`InvalidCursorError`."""
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            version, started_at_ms, event_id = json.loads(raw)
            if version != cls._VERSION or type(started_at_ms) is not int or not isinstance(event_id, str):
                raise ValueError("unexpected content")
            return cls(started_at_ms=started_at_ms, event_id=canonical_event_id(event_id))
        except (ValueError, TypeError, binascii.Error, UnicodeDecodeError) as exc:
            raise InvalidCursorError(
                "invalid cursor: pass back the next_cursor of a previous page unchanged, or omit it for the first page"
            ) from exc

    @classmethod
    def after(cls, row: CallRow) -> Cursor:
        """The cursor that continues after ``row``."""
        return cls(started_at_ms=epoch_ms(row.started_at), event_id=row.event_id)


# --------------------------------------------------------------------------------------------- queries


class _TenantQuery(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    tenant_id: str = Field(pattern=TENANT_PATTERN, description="Every query is scoped to exactly one tenant.")


class CallQuery(_TenantQuery):
    """A page of one tenant's calls, newest first (by ``started_at``, ties broken by event id).

    ``start`` is inclusive and ``end`` exclusive on ``started_at``. ``text`` is a case-insensitive substring
    search over the messages' text (tool results too), the outputs and the tool calls' arguments (see
    :meth:`CallRow.searchable_text`). ``origin``
    narrows to the applications' or the platform's own calls (default: both).
    """

    app: FilterValue | None = None
    environment: FilterValue | None = None
    model: FilterValue | None = None
    status: Status | None = None
    user_id: FilterValue | None = None
    session_id: FilterValue | None = None
    trace_id: FilterValue | None = None
    call_id: FilterValue | None = None
    prompt_name: FilterValue | None = None
    prompt_version: int | None = Field(default=None, ge=1, le=2**32 - 1)
    experiment_id: FilterValue | None = None
    origin: OriginFilter = "all"
    start: AwareDatetime | None = None
    end: AwareDatetime | None = None
    text: str | None = Field(default=None, min_length=1, max_length=1024)
    limit: int = Field(default=100, ge=1, le=MAX_LIMIT)
    cursor: str | None = Field(default=None, max_length=512, description="next_cursor of the previous page")

    @model_validator(mode="after")
    def _window_is_ordered(self) -> CallQuery:
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise ValueError("end must be after start")
        return self

    def equality_filters(self) -> dict[str, str | int]:
        """The exact-match filters that are set, by column/field name."""
        fields = ("app", "environment", "model", "status", "user_id", "session_id", "trace_id", "call_id",
                  "prompt_name", "experiment_id")  # fmt: skip
        found: dict[str, str | int] = {name: value for name in fields if (value := getattr(self, name)) is not None}
        if self.prompt_version is not None:
            found["prompt_version"] = self.prompt_version
        if self.origin != "all":
            found["origin"] = self.origin
        return found

    def decoded_cursor(self) -> Cursor | None:
        """The parsed cursor, or None for the first page; raises :class:`InvalidCursorError`."""
        return None if self.cursor is None else Cursor.decode(self.cursor)


class CallPage(BaseModel):
    """One page of calls; ``next_cursor`` is None on the last page."""

    model_config = ConfigDict(frozen=True)

    items: list[CallRow]
    next_cursor: str | None = None


class MetricsQuery(_TenantQuery):
    """Aggregate metrics of one tenant's calls started in ``[start, end)``, optionally grouped by app or model.

    The window is widened to whole minutes (``start`` rounded down, ``end`` up), the rollup's resolution.
    ``origin`` defaults to the applications' calls: the platform's own traffic counts only when asked for.
    """

    start: AwareDatetime
    end: AwareDatetime
    group_by: GroupBy = "none"
    app: FilterValue | None = None
    environment: FilterValue | None = None
    model: FilterValue | None = None
    origin: OriginFilter = "application"

    @field_validator("start")
    @classmethod
    def _floor_start(cls, value: datetime) -> datetime:
        return floor_minute(value)

    @field_validator("end")
    @classmethod
    def _ceil_end(cls, value: datetime) -> datetime:
        return ceil_minute(value)

    @model_validator(mode="after")
    def _window_is_ordered(self) -> MetricsQuery:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self

    def equality_filters(self) -> dict[str, str]:
        """The exact-match filters that are set, by column/field name."""
        found = {name: value for name in ("app", "environment", "model") if (value := getattr(self, name)) is not None}
        if self.origin != "all":
            found["origin"] = self.origin
        return found


class TimeseriesQuery(MetricsQuery):
    """Metrics per time bucket: bucket ``i`` covers ``[start + i*step, start + (i+1)*step)``.

    ``step_seconds`` is a whole number of minutes; at most :data:`MAX_BUCKETS` buckets fit in the window.
    Buckets without calls are left out of the answer.
    """

    step_seconds: int = Field(default=60, ge=MIN_STEP_SECONDS, le=400 * 86_400)

    @model_validator(mode="after")
    def _buckets_are_bounded(self) -> TimeseriesQuery:
        if self.step_seconds % MIN_STEP_SECONDS:
            raise ValueError(
                f"step_seconds must be a multiple of {MIN_STEP_SECONDS} (the rollup has minute resolution)"
            )
        if self.bucket_count > MAX_BUCKETS:
            raise ValueError(
                f"the window holds {self.bucket_count} buckets of {self.step_seconds}s, more than {MAX_BUCKETS}: "
                "shorten the window or raise step_seconds"
            )
        return self

    @property
    def bucket_count(self) -> int:
        """How many buckets the window spans (the last one may be partial)."""
        return math.ceil((self.end - self.start).total_seconds() / self.step_seconds)

    def bucket_start(self, value: datetime) -> datetime:
        """The start of the bucket holding ``value``."""
        offset = int((to_utc(value) - self.start).total_seconds()) // self.step_seconds
        return self.start + timedelta(seconds=offset * self.step_seconds)


# --------------------------------------------------------------------------------------------- answers


class Metrics(BaseModel):
    """Counts, tokens and latency quantiles over a set of calls (calls without usage count 0 tokens)."""

    model_config = ConfigDict(frozen=True)

    calls: int
    errors: int
    error_rate: float = Field(description="errors / calls")
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    latency_p50_ms: float
    latency_p95_ms: float
    latency_p99_ms: float

    @classmethod
    def compute(
        cls,
        calls: int,
        errors: int,
        prompt_tokens: int,
        completion_tokens: int,
        total_tokens: int,
        latency_quantiles: list[float] | tuple[float, ...],
        **extra: Any,
    ) -> Any:
        """Build the metrics (``extra`` carries the group/bucket fields of a subclass)."""
        p50, p95, p99 = (0.0 if math.isnan(v) else float(v) for v in latency_quantiles)
        return cls(
            calls=calls,
            errors=errors,
            error_rate=errors / calls if calls else 0.0,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            total_tokens=total_tokens,
            latency_p50_ms=p50,
            latency_p95_ms=p95,
            latency_p99_ms=p99,
            **extra,
        )


class SummaryRow(Metrics):
    """Metrics of one group (``group`` is None when the query is not grouped). Sorted by calls, descending."""

    group: str | None = None


class TimeseriesPoint(Metrics):
    """Metrics of one group within one bucket. Sorted by bucket, then group."""

    bucket_start: AwareDatetime
    group: str | None = None
