"""The warehouse's query API: calls, metrics and every stored event type, always scoped to the caller's tenant.

Every query counts against the caller's key's in-flight bound (``max_queries_per_key``: the next one is a
429 with Retry-After) and runs with a server-side time limit (a 503 when it is exceeded). Every error is an
RFC 9457 ``application/problem+json`` document, and the OpenAPI document says so (the contract test holds
the app to it). The generic event reads live in :mod:`llmops_warehouse.entrypoints.events_api`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import JSONResponse
from llmops_kit.errors import TransientError
from llmops_kit.http.app import Runtime, create_service_app
from llmops_kit.http.problems import Problem, ProblemError, add_openapi_components, model_components, problem_response
from pydantic import BaseModel

from llmops_warehouse import __version__
from llmops_warehouse.bootstrap import WarehousePorts, build_query_runtime, build_runtime
from llmops_warehouse.config import WarehouseSettings
from llmops_warehouse.entrypoints.events_api import events_router
from llmops_warehouse.entrypoints.params import (
    CanReadCalls,
    CanReadMetrics,
    GroupBy,
    Origin,
    Settings,
    Store,
    Text,
    When,
    build,
    check_range,
    errors_of,
    invalid,
)
from llmops_warehouse.entrypoints.read_audit import audit_call_read
from llmops_warehouse.entrypoints.retention_api import retention_router
from llmops_warehouse.erasure.http import erasures_router
from llmops_warehouse.models import (
    MIN_STEP_SECONDS,
    CallPage,
    CallQuery,
    CallRow,
    InvalidCursorError,
    MetricsQuery,
    QueryTimeoutError,
    SummaryRow,
    TimeseriesPoint,
    TimeseriesQuery,
)

__all__ = ["create_app"]


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


def _search_window(start: datetime | None, end: datetime | None, max_days: int) -> tuple[datetime, datetime]:
    """A text search's window: at most ``max_days`` long, the last ``max_days`` by default (422 if longer)."""
    end = end or datetime.now(UTC)
    start = start or end - timedelta(days=max_days)
    if end - start > timedelta(days=max_days):
        raise invalid([{"loc": ["query", "start"], "type": "search_window_too_long",
                         "msg": f"a text search spans at most {max_days} days: narrow start/end"}])  # fmt: skip
    return start, end


def _window(start: datetime | None, end: datetime | None) -> tuple[datetime, datetime]:
    """The metrics window: ``end`` defaults to now, ``start`` to an hour before ``end``."""
    check_range(start=start, end=end)
    end = end or datetime.now(UTC)
    start = start or end - timedelta(hours=1)
    check_range(start=start)
    return start, end


router = APIRouter(prefix="/v1", tags=["analytics"])


@router.get(
    "/calls",
    response_model=CallPage,
    summary="List calls, newest first, with filters and a cursor",
    responses=errors_of("calls:read", (400, "A cursor this API did not issue, or no tenant header")),
)
async def list_calls(
    request: Request,
    caller: CanReadCalls,
    store: Store,
    settings: Settings,
    app: Text = None,
    environment: Text = None,
    model: Text = None,
    status: Annotated[Literal["ok", "error"] | None, Query()] = None,
    user_id: Text = None,
    session_id: Text = None,
    trace_id: Text = None,
    prompt_name: Text = None,
    prompt_version: Annotated[int | None, Query(ge=1, le=2**32 - 1)] = None,
    experiment_id: Text = None,
    origin: Origin = "all",
    start: When = None,
    end: When = None,
    text: Annotated[
        str | None,
        Query(max_length=1024, description="Case-insensitive substring search; spans at most 7 days by default"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(max_length=512, description="next_cursor of the previous page")] = None,
) -> CallPage:
    """The caller's tenant's calls matching every given filter. Pass ``next_cursor`` back for the next page.

    A ``text`` search looks at ``search_max_days`` (default 7) at most: without ``start`` it searches the
    last ones before ``end``, and a longer window is a 422.
    """
    check_range(start=start, end=end)
    if text is not None:
        start, end = _search_window(start, end, settings.search_max_days)
    query = build(CallQuery, tenant_id=caller.tenant_id, app=app, environment=environment, model=model,
                   status=status, user_id=user_id, session_id=session_id, trace_id=trace_id, prompt_name=prompt_name,
                   prompt_version=prompt_version, experiment_id=experiment_id, origin=origin, start=start, end=end,
                   text=text, limit=limit, cursor=cursor)  # fmt: skip
    try:
        page = await store.list_calls(query)
    except InvalidCursorError as exc:
        raise ProblemError(400, "Bad Request", str(exc)) from exc
    if cursor is None:  # audited once served (a refused or failed query read nothing), before the answer is sent
        await audit_call_read(request, caller, "all", query.model_dump(exclude={"tenant_id", "limit", "cursor"}))
    return page


@router.get(
    "/calls/{call_id:path}",  # call ids may contain "/"
    response_model=CallRow,
    summary="One call by its call id",
    responses=errors_of("calls:read", (404, "No call with this id in the caller's tenant")),
)
async def get_call(request: Request, caller: CanReadCalls, store: Store, call_id: str) -> CallRow:
    """A call of the caller's tenant; another tenant's call is indistinguishable from a missing one (404)."""
    row = await store.get_call(caller.tenant_id, call_id)
    if row is None:
        raise ProblemError(404, "Not Found", f"no call with id '{call_id}'")
    await audit_call_read(request, caller, call_id, {})
    return row


@router.get(
    "/metrics/summary",
    response_model=SummaryResponse,
    summary="Calls, errors, tokens, latency quantiles",
    responses=errors_of("metrics:read"),
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
    origin: Origin = "application",
) -> SummaryResponse:
    """Aggregates over ``[start, end)`` (default: the last hour), widened to whole minutes.

    Only the applications' calls count unless ``origin`` says otherwise (``all`` includes the platform's).
    """
    start, end = _window(start, end)
    query = build(MetricsQuery, tenant_id=caller.tenant_id, start=start, end=end, group_by=group_by, app=app,
                   environment=environment, model=model, origin=origin)  # fmt: skip
    return SummaryResponse(start=query.start, end=query.end, items=await store.summary(query))


@router.get(
    "/metrics/timeseries",
    response_model=TimeseriesResponse,
    summary="Metrics per time bucket",
    responses=errors_of("metrics:read"),
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
    origin: Origin = "application",
) -> TimeseriesResponse:
    """Buckets of ``step_seconds`` over ``[start, end)`` (default: the last hour); at most 2,000 buckets.

    Only the applications' calls count unless ``origin`` says otherwise (``all`` includes the platform's).
    """
    start, end = _window(start, end)
    query = build(TimeseriesQuery, tenant_id=caller.tenant_id, start=start, end=end, step_seconds=step_seconds,
                   group_by=group_by, app=app, environment=environment, model=model, origin=origin)  # fmt: skip
    items = await store.timeseries(query)
    return TimeseriesResponse(start=query.start, end=query.end, step_seconds=step_seconds, items=items)


async def _unavailable(_: Request, exc: Exception) -> JSONResponse:
    """A query past its server-side time limit, or ClickHouse unreachable: 503, retry (a narrower one)."""
    detail = str(exc) if isinstance(exc, QueryTimeoutError) else "the warehouse's storage is unavailable"
    return problem_response(503, "Service Unavailable", detail, headers={"Retry-After": "1"})


def create_app(settings: WarehouseSettings | None = None, *, ports: WarehousePorts | None = None) -> FastAPI:
    """The warehouse app.

    By default the production wiring: ClickHouse plus the Kafka consumer. With ``ports`` only the query API
    runs, over the injected store and keys; no Kafka client is created. Either way the store and keys are
    wired in the lifespan (the store's worker threads live with it).
    """
    settings = settings or WarehouseSettings()

    async def runtime(app: FastAPI) -> Runtime:
        app.state.settings = settings
        if ports is not None:
            return build_query_runtime(app, settings, ports)
        return await build_runtime(app, settings)

    app = create_service_app(
        service="warehouse",
        title="LLMOps warehouse",
        description="The only ClickHouse writer: stores every analytical event once and answers queries over them.",
        version=__version__,
        build_runtime=runtime,
    )
    app.include_router(router)
    app.include_router(events_router)
    app.include_router(retention_router)
    app.include_router(erasures_router)
    app.add_exception_handler(QueryTimeoutError, _unavailable)
    app.add_exception_handler(TransientError, _unavailable)
    add_openapi_components(app, lambda: model_components(Problem=Problem))
    return app
