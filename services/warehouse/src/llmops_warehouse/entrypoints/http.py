"""The warehouse's query API: calls and metrics, always scoped to the caller's tenant.

Every error is an RFC 9457 ``application/problem+json`` document, and the OpenAPI document says so (the
contract test holds the app to it).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from llmops_kit.auth import Principal, requires
from llmops_kit.http.app import Runtime, create_service_app
from llmops_kit.http.problems import Problem, ProblemError, add_openapi_components, model_components, problem_doc
from pydantic import BaseModel, BeforeValidator, ValidationError

from llmops_warehouse import __version__
from llmops_warehouse.bootstrap import WarehousePorts, build_query_runtime, build_runtime
from llmops_warehouse.config import WarehouseSettings
from llmops_warehouse.models import (
    MIN_STEP_SECONDS,
    CallPage,
    CallQuery,
    CallRow,
    InvalidCursorError,
    MetricsQuery,
    SummaryRow,
    TimeseriesPoint,
    TimeseriesQuery,
)
from llmops_warehouse.ports import CallStore
from llmops_warehouse.threaded_store import ThreadedCallStore

__all__ = ["create_app"]

Q = TypeVar("Q", bound=BaseModel)
CanReadCalls = Annotated[Principal, Depends(requires("calls:read"))]
CanReadMetrics = Annotated[Principal, Depends(requires("metrics:read"))]
Text = Annotated[str | None, Query(max_length=256)]
_ISO_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}")


def _iso_8601(value: Any) -> Any:
    """Refuse what pydantic would otherwise read as a time too: Unix timestamps ("1700000000"), bare dates."""
    if isinstance(value, str) and not _ISO_DATE_TIME.match(value):
        raise ValueError("expected an ISO 8601 date-time with a time zone, e.g. 2026-11-28T10:00:00Z")
    return value


When = Annotated[
    datetime | None,
    BeforeValidator(_iso_8601),
    Query(description="ISO 8601 with a timezone, e.g. 2026-11-28T10:00:00Z; from 1900-01-01 to before 2299-12-31"),
]
GroupBy = Annotated[Literal["none", "app", "model"], Query(description="Group the metrics by")]
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(2299, 12, 31, tzinfo=UTC)
"""Times outside ``[EARLIEST, LATEST)`` are refused: ClickHouse's DateTime64 cannot hold them."""


def _errors(permission: str, *extra: tuple[int, str]) -> dict[int | str, dict[str, Any]]:
    """The problem answers of a route that needs ``permission``, plus its own."""
    answers = {
        401: "Missing or unknown API key",
        403: f"The key's role lacks `{permission}`",
        422: "Invalid query parameters; `errors` lists them",
        503: "Authentication is not configured",
        **dict(extra),
    }
    return {status: problem_doc(text) for status, text in sorted(answers.items())}


class SummaryResponse(BaseModel):
    """Metrics per group over the window."""

    start: datetime
    end: datetime
    items: list[SummaryRow]


class TimeseriesResponse(BaseModel):
    """Metrics per bucket (and group); buckets without calls are left out."""

    start: datetime
    end: datetime
    step_seconds: int
    items: list[TimeseriesPoint]


def _invalid(errors: list[dict[str, Any]]) -> ProblemError:
    detail = "; ".join(f"{'.'.join(map(str, e['loc'][1:])) or 'query'}: {e['msg']}" for e in errors)
    return ProblemError(422, "Unprocessable Content", detail, errors=errors)


def _build(query_type: type[Q], /, **fields: Any) -> Q:
    """Validate query parameters as a domain query; a bad combination is a 422 problem."""
    try:
        return query_type.model_validate({k: v for k, v in fields.items() if v is not None})
    except ValidationError as exc:
        errors = [
            {"loc": ["query", *e["loc"]], "msg": e["msg"].removeprefix("Value error, "), "type": e["type"]}
            for e in exc.errors()
        ]
        raise _invalid(errors) from exc


def _check_range(**times: datetime | None) -> None:
    """422 for an aware time ClickHouse cannot store (naive ones are refused by the query models)."""
    errors = [
        {"loc": ["query", name], "msg": f"must be from {EARLIEST:%Y-%m-%d} to before {LATEST:%Y-%m-%d}",
         "type": "datetime_out_of_range"}
        for name, value in times.items()
        if value is not None and value.tzinfo is not None and not EARLIEST <= value < LATEST
    ]  # fmt: skip
    if errors:
        raise _invalid(errors)


def _store(request: Request) -> ThreadedCallStore:
    store: ThreadedCallStore = request.app.state.store
    return store


def _window(start: datetime | None, end: datetime | None) -> tuple[datetime, datetime]:
    """The metrics window: ``end`` defaults to now, ``start`` to an hour before ``end``."""
    _check_range(start=start, end=end)
    end = end or datetime.now(UTC)
    start = start or end - timedelta(hours=1)
    _check_range(start=start)
    return start, end


router = APIRouter(prefix="/v1", tags=["analytics"])
Store = Annotated[ThreadedCallStore, Depends(_store)]


@router.get(
    "/calls",
    response_model=CallPage,
    summary="List calls, newest first, with filters and a cursor",
    responses=_errors("calls:read", (400, "A cursor this API did not issue")),
)
async def list_calls(
    caller: CanReadCalls,
    store: Store,
    app: Text = None,
    environment: Text = None,
    model: Text = None,
    status: Annotated[Literal["ok", "error"] | None, Query()] = None,
    user_id: Text = None,
    session_id: Text = None,
    trace_id: Text = None,
    start: When = None,
    end: When = None,
    text: Annotated[str | None, Query(max_length=1024, description="Case-insensitive substring search")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(max_length=512, description="next_cursor of the previous page")] = None,
) -> CallPage:
    """The caller's tenant's calls matching every given filter. Pass ``next_cursor`` back for the next page."""
    _check_range(start=start, end=end)
    query = _build(CallQuery, tenant_id=caller.tenant_id, app=app, environment=environment, model=model,
                   status=status, user_id=user_id, session_id=session_id, trace_id=trace_id, start=start, end=end,
                   text=text, limit=limit, cursor=cursor)  # fmt: skip
    try:
        return await store.list_calls(query)
    except InvalidCursorError as exc:
        raise ProblemError(400, "Bad Request", str(exc)) from exc


@router.get(
    "/calls/{call_id:path}",  # call ids may contain "/"
    response_model=CallRow,
    summary="One call by its call id",
    responses=_errors("calls:read", (404, "No call with this id in the caller's tenant")),
)
async def get_call(caller: CanReadCalls, store: Store, call_id: str) -> CallRow:
    """A call of the caller's tenant; another tenant's call is indistinguishable from a missing one (404)."""
    row = await store.get_call(caller.tenant_id, call_id)
    if row is None:
        raise ProblemError(404, "Not Found", f"no call with id '{call_id}'")
    return row


@router.get(
    "/metrics/summary",
    response_model=SummaryResponse,
    summary="Calls, errors, tokens, latency quantiles",
    responses=_errors("metrics:read"),
)
async def summary(
    caller: CanReadMetrics,
    store: Store,
    start: When = None,
    end: When = None,
    group_by: GroupBy = "none",
    app: Text = None,
    environment: Text = None,
    model: Text = None,
) -> SummaryResponse:
    """Aggregates over ``[start, end)`` (default: the last hour), widened to whole minutes."""
    start, end = _window(start, end)
    query = _build(MetricsQuery, tenant_id=caller.tenant_id, start=start, end=end, group_by=group_by, app=app,
                   environment=environment, model=model)  # fmt: skip
    return SummaryResponse(start=query.start, end=query.end, items=await store.summary(query))


@router.get(
    "/metrics/timeseries",
    response_model=TimeseriesResponse,
    summary="Metrics per time bucket",
    responses=_errors("metrics:read"),
)
async def timeseries(
    caller: CanReadMetrics,
    store: Store,
    start: When = None,
    end: When = None,
    step_seconds: Annotated[
        int,
        # multipleOf is documented, and checked by TimeseriesQuery (for a message that says why).
        Query(ge=60, le=400 * 86_400, description="Multiple of 60", json_schema_extra={"multipleOf": MIN_STEP_SECONDS}),
    ] = 60,
    group_by: GroupBy = "none",
    app: Text = None,
    environment: Text = None,
    model: Text = None,
) -> TimeseriesResponse:
    """Buckets of ``step_seconds`` over ``[start, end)`` (default: the last hour); at most 2,000 buckets."""
    start, end = _window(start, end)
    query = _build(TimeseriesQuery, tenant_id=caller.tenant_id, start=start, end=end, step_seconds=step_seconds,
                   group_by=group_by, app=app, environment=environment, model=model)  # fmt: skip
    items = await store.timeseries(query)
    return TimeseriesResponse(start=query.start, end=query.end, step_seconds=step_seconds, items=items)


def create_app(
    settings: WarehouseSettings | None = None,
    store_factory: Callable[[], CallStore] | None = None,
    *,
    ports: WarehousePorts | None = None,
) -> FastAPI:
    """The warehouse app.

    By default the production wiring: ClickHouse (``store_factory`` replaces it) plus the Kafka consumer.
    With ``ports`` only the query API runs, over the injected store and keys; no Kafka client is created.
    Either way the store and keys are wired in the lifespan (the store's worker thread lives with it).
    """
    settings = settings or WarehouseSettings()
    if ports is not None and store_factory is not None:
        raise ValueError("pass either ports or store_factory, not both")

    async def runtime(app: FastAPI) -> Runtime:
        if ports is not None:
            return build_query_runtime(app, settings, ports)
        return await build_runtime(app, settings, store_factory() if store_factory else None)

    app = create_service_app(
        service="warehouse",
        title="LLMOps warehouse",
        description="The only ClickHouse writer: stores recorded calls once each and answers analytics queries.",
        version=__version__,
        build_runtime=runtime,
    )
    app.include_router(router)
    add_openapi_components(app, lambda: model_components(Problem=Problem))
    return app
