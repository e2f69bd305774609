"""What the query routes share: their parameters, dependencies, validation and documented problem answers."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, TypeVar

from fastapi import Depends, Query, Request
from llmops_kit.auth import Principal
from llmops_kit.http.limits import requires_within
from llmops_kit.http.problems import ProblemError, problem_doc
from pydantic import BaseModel, BeforeValidator, ValidationError

from llmops_warehouse.config import WarehouseSettings
from llmops_warehouse.models import OriginFilter
from llmops_warehouse.ports import AsyncEventStore

__all__ = [
    "LIMITER",
    "CanReadCalls",
    "CanReadMetrics",
    "GroupBy",
    "Origin",
    "Settings",
    "Store",
    "Text",
    "When",
    "build",
    "check_range",
    "errors_of",
    "invalid",
]

Q = TypeVar("Q", bound=BaseModel)
LIMITER = "query_limiter"
"""``app.state`` attribute of the per-key :class:`~llmops_kit.http.limits.InFlightLimiter` of queries."""
CanReadCalls = Annotated[Principal, Depends(requires_within("calls:read", LIMITER))]
CanReadMetrics = Annotated[Principal, Depends(requires_within("metrics:read", LIMITER))]
Text = Annotated[str | None, Query(max_length=256)]
_ISO_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}")


def iso_8601(value: Any) -> Any:
    """Refuse what pydantic would otherwise read as a time too: Unix timestamps ("1700000000"), bare dates."""
    if isinstance(value, str) and not _ISO_DATE_TIME.match(value):
        raise ValueError("expected an ISO 8601 date-time with a time zone, e.g. 2026-11-28T10:00:00Z")
    return value


When = Annotated[
    datetime | None,
    BeforeValidator(iso_8601),
    Query(description="ISO 8601 with a timezone, e.g. 2026-11-28T10:00:00Z; from 1900-01-01 to before 2299-12-31"),
]
GroupBy = Annotated[Literal["none", "app", "model"], Query(description="Group the metrics by")]
Origin = Annotated[
    OriginFilter,
    Query(description="application: the applications' calls; platform: the platform's own (judges, offline runs)"),
]
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(2299, 12, 31, tzinfo=UTC)
"""Times outside ``[EARLIEST, LATEST)`` are refused: ClickHouse's DateTime64 cannot hold them."""


def errors_of(permission: str, *extra: tuple[int, str]) -> dict[int | str, dict[str, Any]]:
    """The problem answers of a route that needs ``permission``, plus its own."""
    answers = {
        400: "A service key without the X-LLMOps-Tenant header",
        401: "Missing or unknown API key",
        403: f"The key's role lacks `{permission}`, or the key may not act for the named tenant",
        422: "Invalid query parameters; `errors` lists them",
        429: "Too many queries of this key in flight; retry after `Retry-After` seconds",
        503: "Authentication is not configured, or the query ran past its time limit",
        **dict(extra),
    }
    return {status: problem_doc(text) for status, text in sorted(answers.items())}


def invalid(errors: list[dict[str, Any]]) -> ProblemError:
    detail = "; ".join(f"{'.'.join(map(str, e['loc'][1:])) or 'query'}: {e['msg']}" for e in errors)
    return ProblemError(422, "Unprocessable Content", detail, errors=errors)


def build(query_type: type[Q], /, **fields: Any) -> Q:
    """Validate query parameters as a domain query; a bad combination is a 422 problem."""
    try:
        return query_type.model_validate({k: v for k, v in fields.items() if v is not None})
    except ValidationError as exc:
        errors = [
            {"loc": ["query", *e["loc"]], "msg": e["msg"].removeprefix("Value error, "), "type": e["type"]}
            for e in exc.errors()
        ]
        raise invalid(errors) from exc


def check_range(**times: datetime | None) -> None:
    """422 for an aware time ClickHouse cannot store (naive ones are refused by the query models)."""
    errors = [
        {"loc": ["query", name], "msg": f"must be from {EARLIEST:%Y-%m-%d} to before {LATEST:%Y-%m-%d}",
         "type": "datetime_out_of_range"}
        for name, value in times.items()
        if value is not None and value.tzinfo is not None and not EARLIEST <= value < LATEST
    ]  # fmt: skip
    if errors:
        raise invalid(errors)


def store_of(request: Request) -> AsyncEventStore:
    store: AsyncEventStore = request.app.state.store
    return store


def settings_of(request: Request) -> WarehouseSettings:
    settings: WarehouseSettings = request.app.state.settings
    return settings


Store = Annotated[AsyncEventStore, Depends(store_of)]
Settings = Annotated[WarehouseSettings, Depends(settings_of)]
