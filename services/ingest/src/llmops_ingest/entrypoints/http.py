"""``POST /v1/calls``: the HTTP way in.

The body is read and parsed here rather than by FastAPI so that limits hold while streaming (a
missing or lying Content-Length cannot make us buffer more than the limit) and so that every
whole-request error is a precise ``application/problem+json``. Records then go through the shared
handlers one by one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

import msgspec
from aiokafka.errors import KafkaError
from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from llmops_kit.auth import Principal
from llmops_kit.errors import TransientError
from llmops_kit.http.edge import read_body, trace_id_of
from llmops_kit.http.limits import requires_within
from llmops_kit.http.problems import ProblemError, problem_response
from llmops_kit.kafka.publisher import EventPublisher
from llmops_schemas.fastcodec import reads_exactly

from llmops_ingest.call_structs import decode_v2_body
from llmops_ingest.entrypoints.openapi import CALLS_DESCRIPTION, BatchResult, calls_openapi_extra, calls_responses
from llmops_ingest.handlers import BatchOutcome, IngestContext, RecordRules, prepare_batch
from llmops_ingest.metrics import count_records
from llmops_ingest.ports import Redactor
from llmops_ingest.publishing import PublishOutcome, publish_accepted
from llmops_ingest.wire import BodyShapeError, WireError, decode_json, extract_calls

__all__ = ["LIMITER", "HttpDependencies", "build_router"]

log = logging.getLogger(__name__)

# What a publisher raises when the cluster does not acknowledge in time: the client should retry.
UNAVAILABLE = (KafkaError, TransientError, TimeoutError, ConnectionError)
LIMITER = "ingest_limiter"
"""``app.state`` attribute of the per-key in-flight limit of the write route."""


@dataclass(frozen=True, slots=True)
class HttpDependencies:
    """What the route needs, set on ``app.state.ingest`` by the bootstrap."""

    publisher: EventPublisher
    redactor: Redactor
    clock: Callable[[], datetime]
    source: str
    rules: RecordRules
    max_body_bytes: int
    max_records: int
    publish_timeout_s: float
    retry_after_s: int


def _dependencies(request: Request) -> HttpDependencies:
    deps = getattr(request.app.state, "ingest", None)
    if not isinstance(deps, HttpDependencies):
        raise ProblemError(503, "Service Unavailable", "ingest is starting")
    return deps


def check_content_type(value: str | None) -> None:
    """Only ``application/json``, and if a charset is named it must be UTF-8 (the only JSON encoding we read)."""
    media_type, *params = (value or "").split(";")
    if media_type.strip().lower() != "application/json":
        raise ProblemError(415, "Unsupported Media Type", f"send Content-Type: application/json, not {value!r}")
    for param in params:
        name, _, charset = param.partition("=")
        if name.strip().lower() == "charset" and charset.strip().strip('"').lower() not in {"utf-8", "utf8"}:
            raise ProblemError(415, "Unsupported Media Type", "the body must be UTF-8 encoded")


def parse_calls(body: bytes, max_records: int) -> list[Any]:
    """The records of a batch body, or the problem that describes why there are none."""
    try:
        document = decode_json(body)
    except WireError as exc:
        raise ProblemError(400, "Bad Request", str(exc), position=exc.position) from None
    try:
        calls = extract_calls(document)
    except BodyShapeError as exc:
        raise ProblemError(422, "Unprocessable Content", str(exc), errors=exc.errors) from None
    if len(calls) > max_records:
        raise ProblemError(
            413, "Content Too Large", f"{len(calls)} records; at most {max_records} per request", limit=max_records
        )
    return calls


def _validate(body: bytes, max_records: int, context: IngestContext) -> BatchOutcome:
    """The batch's outcome: a body of valid v2 calls read straight into their structs, any other record by record."""
    calls = decode_v2_body(body) if context.derived else None
    if calls is not None and len(calls) <= max_records:
        return prepare_batch(calls, context, validated=True)
    return prepare_batch(parse_calls(body, max_records), context)


def accepted_response(content: dict[str, Any]) -> Response:
    """The 202 answer, written by msgspec: the bytes ``JSONResponse`` writes (compact, UTF-8) at a thirtieth of
    its cost, which was ~3 µs per record of a batch (docs/adr/0060)."""
    return Response(msgspec.json.encode(content), 202, media_type="application/json")


def _count(outcome: BatchOutcome, published: PublishOutcome) -> None:
    count_records("http", "ok", len(published.acknowledged))
    count_records("http", "unavailable", len(published.unacknowledged))
    for rejected in outcome.rejected:
        count_records("http", rejected.reason)


def _partly_published(published: PublishOutcome, rejected: list[dict[str, Any]], retry_after_s: int) -> JSONResponse:
    """503 naming exactly which records Kafka acknowledged and which the client must send again."""
    acknowledged, total = len(published.acknowledged), len(published.acknowledged) + len(published.unacknowledged)
    log.warning("publish of %d of %d records failed: %s", total - acknowledged, total, type(published.failure).__name__)
    return problem_response(
        503,
        "Service Unavailable",
        f"Kafka acknowledged {acknowledged} of the {total} valid records; send the ones under `not_accepted` "
        "again after Retry-After (resending the whole batch is safe: ids are deterministic)",
        headers={"Retry-After": str(retry_after_s)},
        accepted=[a.summary() for a in published.acknowledged],
        not_accepted=[a.summary() for a in published.unacknowledged],
        rejected=rejected,
    )


def build_router(max_records: int) -> APIRouter:
    """The calls router; ``max_records`` is what the OpenAPI document advertises as the batch limit."""
    router = APIRouter(tags=["calls"])

    @router.post(
        "/v1/calls",
        status_code=202,
        summary="Record a batch of LLM calls",
        description=CALLS_DESCRIPTION,
        response_model=BatchResult,
        responses=calls_responses(),
        openapi_extra=calls_openapi_extra(max_records),
    )
    async def post_calls(
        request: Request,
        principal: Annotated[Principal, Depends(requires_within("calls:write", LIMITER))],
        deps: Annotated[HttpDependencies, Depends(_dependencies)],
    ) -> Response:
        """Validate each record, publish the valid ones, and say which were accepted (see the description)."""
        check_content_type(request.headers.get("content-type"))
        body = await read_body(request, deps.max_body_bytes)
        context = IngestContext(
            tenant_id=principal.tenant_id,
            source=deps.source,
            now=deps.clock(),
            redactor=deps.redactor,
            rules=deps.rules,
            trace_id=trace_id_of(request.headers.get("traceparent")),
            key_id=principal.key_id,
            derived=reads_exactly(body),
        )
        # Parsing and validating 10 MiB is CPU work (~0.5 s): off the event loop, so probes, other requests
        # and the raw consumer's heartbeats are not stalled behind it.
        outcome = await run_in_threadpool(_validate, body, deps.max_records, context)
        rejected = [r.summary() for r in outcome.rejected]
        if not outcome.accepted:
            _count(outcome, PublishOutcome([], []))
            raise ProblemError(
                422, "Unprocessable Content", "every record was rejected", accepted=[], rejected=rejected
            )
        published = await publish_accepted(deps.publisher, outcome.accepted, timeout_s=deps.publish_timeout_s)
        if published.failure is not None and not isinstance(published.failure, UNAVAILABLE):
            raise published.failure  # a defect, not an outage: the kit answers 500
        _count(outcome, published)
        if published.failure is not None:
            return _partly_published(published, rejected, deps.retry_after_s)
        return accepted_response({"accepted": [a.summary() for a in published.acknowledged], "rejected": rejected})

    return router
