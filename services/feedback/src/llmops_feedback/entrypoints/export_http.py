"""``GET /v1/exports/{format}``: preference (``dpo``) and supervised (``sft``) rows as JSONL, in TRL's formats.

The rows are built before the first byte is sent (so a refused export is a clear 4xx/503, never half a file),
then streamed, one JSON object per line. ``X-LLMOps-Export-Rows`` gives the number of rows (for a progress
bar) and ``X-LLMOps-Export-Skipped`` what was left out and why, as JSON. Needs ``calls:read``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from typing import Annotated, Any, Literal

from aiokafka.errors import KafkaError
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import StreamingResponse
from llmops_kit.audit import Actor, AuditTrail
from llmops_kit.auth import Principal, requires
from llmops_kit.http.problems import ProblemError
from llmops_kit.warehouse import HistoryError, HistoryUnavailable
from pydantic import AwareDatetime

from llmops_feedback.export.service import DPO_SOURCES, SFT_SOURCES, Exporter, ExportFilters, ExportRefused
from llmops_feedback.metrics import EXPORT_ROWS

__all__ = ["EXPORTER", "export_router"]

EXPORTER = "exporter"
"""``app.state`` attribute of the :class:`Exporter`."""
JSONL = "application/jsonl"

PROBLEMS: dict[int | str, dict[str, Any]] = {
    status: {"description": text, "content": {"application/problem+json": {}}}
    for status, text in {
        401: "No or an unknown API key",
        403: "The key's role lacks `calls:read`",
        413: "More history matches than one export may read; narrow the window or the filters",
        429: "As many exports are running as the service allows; see Retry-After",
        422: "Invalid filters (a source the format does not have, a naive time, a window that ends before it starts)",
        502: "The warehouse refused the read",
        503: "No warehouse configured, or it (or Kafka, for the export's audit entry) is unavailable; see Retry-After",
    }.items()
}

Reader = Annotated[Principal, Depends(requires("calls:read"))]
Text = Annotated[str | None, Query(max_length=256)]


async def _exporter(request: Request) -> Exporter:
    exporter = getattr(request.app.state, EXPORTER, None)
    if not isinstance(exporter, Exporter):
        raise ProblemError(503, "Service Unavailable", "exports are starting")
    return exporter


def _lines(rows: list[dict[str, Any]]) -> Iterator[bytes]:
    for row in rows:
        yield json.dumps(row, ensure_ascii=False).encode() + b"\n"


def _check(format: str, sources: list[str], start: datetime, end: datetime | None) -> None:
    known = DPO_SOURCES if format == "dpo" else SFT_SOURCES
    unknown = sorted(set(sources) - set(known))
    if unknown:
        raise ProblemError(422, "Unprocessable Content", f"{format} rows come from {', '.join(known)}, not {unknown}")
    if end is not None and end <= start:
        raise ProblemError(422, "Unprocessable Content", "end must be after start")


async def _audited(request: Request, principal: Principal, format: str, filters: ExportFilters, rows: int) -> None:
    """The export's audit entry (who exported how many rows with which filters), on the log before any row is
    sent: an export that cannot be audited is not served (503)."""
    deps = request.app.state.feedback
    details: dict[str, Any] = {"rows": rows, "start": filters.start, "end": filters.end, "app": filters.app,
                               "model": filters.model, "prompt_name": filters.prompt_name}  # fmt: skip
    entry = AuditTrail(deps.publisher, source=deps.source).publish_with(
        principal.tenant_id, Actor.of(principal, request), action=f"export.{format}", resource=("export", format),
        details={k: v for k, v in details.items() if v is not None},
    )  # fmt: skip
    try:
        await asyncio.wait_for(entry, deps.publish_timeout_s)
    except (KafkaError, TimeoutError, ConnectionError) as exc:
        headers = {"Retry-After": str(deps.retry_after_s)}
        raise ProblemError(503, "Service Unavailable", "the export could not be audited", headers=headers) from exc


export_router = APIRouter(prefix="/v1/exports", tags=["exports"], responses=PROBLEMS)


@export_router.get(
    "/{format}",
    summary="Export preference pairs (dpo) or approved examples (sft) as JSONL",
    responses={200: {"content": {JSONL: {}}, "description": "One TRL row per line"}},
    response_class=StreamingResponse,
)
async def export(
    request: Request,
    principal: Reader,
    exporter: Annotated[Exporter, Depends(_exporter)],
    format: Annotated[Literal["dpo", "sft"], Path(description="dpo: TRL preference; sft: TRL language modeling")],
    start: Annotated[AwareDatetime | None, Query(description="Calls from (default: 30 days ago)")] = None,
    end: Annotated[AwareDatetime | None, Query(description="Calls until (default: now)")] = None,
    app: Text = None,
    model: Text = None,
    prompt_name: Text = None,
    prompt_version: Annotated[int | None, Query(ge=1)] = None,
    source: Annotated[list[str] | None, Query(max_length=5, description="Row sources (default: all)")] = None,
    min_margin: Annotated[float, Query(ge=0.5, le=4, description="rating pairs: stars apart")] = 1.0,
    approve_at: Annotated[float, Query(ge=3, le=5, description="sft: the rating that approves")] = 4.0,
    include_end_users: Annotated[bool, Query(description="Count end users' feedback too")] = False,
) -> StreamingResponse:
    """Rows of one format from the caller's tenant: DPO pairs from corrections, pairwise judge scores and
    rating differences on the same prompt; SFT rows of approved answers and corrections. Each row has an
    ``id`` (deduplicated) and its ``lineage`` (call ids, prompt version, model, judge, reviewer). Every export
    is audited (``export.dpo``/``export.sft``, with its filters and row count) before its first row is sent."""
    begin = start or datetime.now(UTC) - timedelta(days=30)
    _check(format, source or [], begin, end)
    filters = ExportFilters(
        start=begin.isoformat(), end=end.isoformat() if end else None, app=app, model=model,
        prompt_name=prompt_name, prompt_version=prompt_version, sources=tuple(source or ()), min_margin=min_margin,
        approve_at=approve_at, include_end_users=include_end_users,
    )  # fmt: skip
    try:
        result = await exporter.export(principal.tenant_id, format, filters)
    except ExportRefused as exc:
        retry = {"Retry-After": "5"} if exc.status in (429, 503) else None
        raise ProblemError(exc.status, HTTPStatus(exc.status).phrase, exc.detail, headers=retry) from None
    except HistoryUnavailable as exc:
        raise ProblemError(
            503, "Service Unavailable", str(exc), headers={"Retry-After": str(exc.retry_after_s)}
        ) from None
    except HistoryError as exc:
        raise ProblemError(502, "Bad Gateway", str(exc)) from None
    await _audited(request, principal, format, filters, len(result.rows))
    EXPORT_ROWS.labels(format).inc(len(result.rows))
    headers = {
        "X-LLMOps-Export-Rows": str(len(result.rows)),
        "X-LLMOps-Export-Skipped": json.dumps(dict(result.skipped), sort_keys=True),
        "X-LLMOps-Export-Sources": json.dumps(dict(result.by_source), sort_keys=True),
        "Content-Disposition": f'attachment; filename="{format}.jsonl"',
    }
    return StreamingResponse(_lines(result.rows), media_type=JSONL, headers=headers)
