"""``GET /v1/erasures/{request_id}/calls``: the ids of the calls an erasure removed, for the services that hold
state about calls (evaluation, feedback) and erase it themselves.

Permission ``erasure:read`` (the ``admin`` role and service keys); always the caller's tenant. A request this
warehouse has not processed (yet) is a 404, so a service waits for the warehouse's receipt, then pages here.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from llmops_kit.auth import Principal
from llmops_kit.http.limits import requires_within
from llmops_kit.http.problems import ProblemError
from pydantic import BaseModel

from llmops_warehouse.entrypoints.params import LIMITER, invalid
from llmops_warehouse.erasure.clickhouse import ClickHouseErasures

__all__ = ["ERASURES", "ErasedCalls", "erasures_router"]

ERASURES = "erasures"
"""``app.state`` attribute of the :class:`ClickHouseErasures` (absent over another store: 503)."""
MAX_PAGE = 1000
CanReadErasures = Annotated[Principal, Depends(requires_within("erasure:read", LIMITER))]
RequestId = Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@/-]*$")]


class ErasedCalls(BaseModel):
    """One page of the call ids an erasure removed, in id order; ``next_cursor`` is null on the last page."""

    request_id: str
    call_ids: list[str]
    next_cursor: str | None = None


PROBLEMS: dict[int | str, dict[str, Any]] = {
    status: {"description": text, "content": {"application/problem+json": {}}}
    for status, text in {
        401: "No, an unknown, a revoked or an expired API key",
        403: "The key's role lacks `erasure:read`",
        404: "This warehouse has not processed that request for the caller's tenant",
        422: "A parameter is not valid (the cursor, the limit)",
        503: "The erasure ledger is not available (a store without it, or ClickHouse unreachable)",
    }.items()
}
erasures_router = APIRouter(prefix="/v1/erasures", tags=["erasure"], responses=PROBLEMS)


def _cursor(text: str | None) -> str:
    if not text:
        return ""
    try:
        decoded = base64.urlsafe_b64decode(text.encode())
        if base64.urlsafe_b64encode(decoded).decode() != text:  # the decoder skips what is not base64
            raise ValueError(text)
        return decoded.decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        problem = {"loc": ["query", "cursor"], "type": "cursor", "msg": "not a cursor this route issued"}
        raise invalid([problem]) from None


@erasures_router.get("/{request_id:path}/calls", response_model=ErasedCalls, summary="Calls an erasure removed")
async def erased_calls(
    request_id: RequestId,
    request: Request,
    caller: CanReadErasures,
    cursor: Annotated[str | None, Query(max_length=256)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 500,
) -> ErasedCalls:
    """The ids of the calls the request erased in the caller's tenant, ``limit`` at a time."""
    after = _cursor(cursor)
    erasures = getattr(request.app.state, ERASURES, None)
    if not isinstance(erasures, ClickHouseErasures):
        raise ProblemError(503, "Service Unavailable", "this warehouse keeps no erasure ledger")
    store = request.app.state.store
    tenant = caller.tenant_id
    if await store.run_read(lambda: erasures.entry(tenant, request_id)) is None:
        raise ProblemError(404, "Not Found", f"no processed erasure {request_id!r}")
    ids = await store.run_read(lambda: erasures.call_page(tenant, request_id, after, limit + 1))
    more = len(ids) > limit
    ids = ids[:limit]
    token = base64.urlsafe_b64encode(ids[-1].encode()).decode() if more else None
    return ErasedCalls(request_id=request_id, call_ids=ids, next_cursor=token)
