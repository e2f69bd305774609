"""``GET /v1/events/{table}``: the generic, tenant-scoped read of every stored event type.

One route serves every table of :data:`llmops_warehouse.tables.TABLES` (and ``calls``): a new mapping entry
is readable with no new route. Filters are those the table declares; asking for another is a 422 that
names the ones it has.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from llmops_kit.http.problems import ProblemError
from llmops_schemas.v2 import CallRecorded

from llmops_warehouse.entrypoints.params import (
    CanReadCalls,
    Origin,
    Store,
    Text,
    When,
    build,
    check_range,
    errors_of,
    invalid,
)
from llmops_warehouse.entrypoints.read_audit import audit_table_read
from llmops_warehouse.events import EventPage, EventQuery, EventRow
from llmops_warehouse.models import MAX_LIMIT, CallQuery, CallRow, InvalidCursorError
from llmops_warehouse.tables import TABLES, EventTable, tables_by_name

__all__ = ["CALLS", "events_router"]

CALLS = "calls"
"""The calls table, read through the same route (its filters: every one, and ``origin``)."""
_NAMES = sorted([CALLS, *tables_by_name(TABLES)])
_CALL_TYPE = CallRecorded.event_type
_ENVELOPE = {"event_id", "tenant_id", "source", "key_id", "received_at", "ingested_at", "trace_id"}
_NOT_IN_PAYLOAD = {*_ENVELOPE, "output", "finish_reason"}
"""What a CallRow has beyond the v2 payload: the envelope, and the first choice's output and finish reason."""

_NOT_CALL_FILTERS = frozenset({"run_id", "replay_id"})
"""Filters of event tables that calls do not have (a call's run or replay is in the scores, not in the call)."""

events_router = APIRouter(prefix="/v1", tags=["events"])


def _tables(request: Request, table: str) -> dict[str, EventTable]:
    """The app's event tables; a 404 when ``table`` is neither one of them nor calls."""
    tables: dict[str, EventTable] = request.app.state.tables
    if table != CALLS and table not in tables:
        known = ", ".join(sorted([CALLS, *tables]))
        raise ProblemError(404, "Not Found", f"no stored event type '{table}'; known: {known}")
    return tables


def _filters(tables: dict[str, EventTable], table: str, given: dict[str, Any], origin: str) -> dict[str, Any]:
    """The set filters, or a 422 naming what ``table`` cannot be filtered on."""
    filters = {name: value for name, value in given.items() if value is not None}
    allowed = set(given) - _NOT_CALL_FILTERS if table == CALLS else set(tables[table].filters)
    unknown = sorted(set(filters) - allowed) + (["origin"] if table != CALLS and origin != "all" else [])
    if unknown:
        has = ", ".join(sorted(allowed | ({"origin"} if table == CALLS else set()))) or "none"
        message = "{table} cannot be filtered on {name} (its filters: {has})"
        errors = [
            {
                "loc": ["query", name],
                "type": "filter_not_available",
                "msg": message.format(table=table, name=name, has=has),
            }
            for name in unknown
        ]
        raise invalid(errors)
    return filters


@events_router.get(
    "/events/{table}",
    response_model=EventPage,
    summary="Stored events of one type, newest first, with filters and a cursor",
    responses=errors_of("calls:read", (400, "A cursor this API did not issue"), (404, "No such stored type")),
)
async def read_events(
    request: Request,
    caller: CanReadCalls,
    store: Store,
    table: Annotated[str, Path(pattern=r"^[a-z][a-z0-9_]{0,62}$", description=f"One of: {', '.join(_NAMES)}")],
    start: When = None,
    end: When = None,
    app: Text = None,
    model: Text = None,
    prompt_name: Text = None,
    prompt_version: Annotated[int | None, Query(ge=1, le=2**32 - 1)] = None,
    experiment_id: Text = None,
    call_id: Text = None,
    run_id: Text = None,
    replay_id: Text = None,
    origin: Origin = "all",
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
    cursor: Annotated[str | None, Query(max_length=512, description="next_cursor of the previous page")] = None,
) -> EventPage:
    """The caller's tenant's events of ``table`` in ``[start, end)`` (the envelope's time; a call's
    ``started_at``) matching every filter given. Delete markers of compacted topics have ``deleted`` true.
    Pass ``next_cursor`` back for the next page. Reading the audit tables, the key history, or calls with a
    tenant's key is audited first (503 when it cannot be)."""
    tables = _tables(request, table)
    check_range(start=start, end=end)
    given = {"app": app, "model": model, "prompt_name": prompt_name, "prompt_version": prompt_version,
             "experiment_id": experiment_id, "call_id": call_id, "run_id": run_id, "replay_id": replay_id}  # fmt: skip
    filters = _filters(tables, table, given, origin)
    try:
        if table == CALLS:
            calls = build(CallQuery, tenant_id=caller.tenant_id, start=start, end=end, origin=origin, limit=limit,
                          cursor=cursor, **filters)  # fmt: skip
            found = await store.list_calls(calls)
            page = EventPage(items=[_as_event(row) for row in found.items], next_cursor=found.next_cursor)
        else:
            query = build(EventQuery, tenant_id=caller.tenant_id, table=table, start=start, end=end,
                          filters=filters, limit=limit, cursor=cursor)  # fmt: skip
            page = await store.read_events(query)
    except InvalidCursorError as exc:
        raise ProblemError(400, "Bad Request", str(exc)) from exc
    await audit_table_read(request, caller, table, {**filters, "start": start, "end": end}, cursor)
    return page


def _as_event(row: CallRow) -> EventRow:
    """A call in the generic shape: the envelope's attributes, the call as ``data``."""
    return EventRow(
        event_id=row.event_id,
        tenant_id=row.tenant_id,
        type=_CALL_TYPE,
        time=row.started_at,
        source=row.source,
        key_id=row.key_id,
        trace_id=row.trace_id,
        data=row.model_dump(mode="json", exclude=_NOT_IN_PAYLOAD),
        ingested_at=row.ingested_at,
    )
