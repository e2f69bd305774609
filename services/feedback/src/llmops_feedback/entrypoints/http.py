"""``POST /v1/feedback`` (a key or a feedback token) and ``POST /v1/feedback/batch`` (keys): the HTTP way in.

Bodies are read and parsed here rather than by FastAPI so that each item gets precise per-field errors and a
token is checked against the body's call before anything is validated. Items then go through the shared
handlers one by one, and the valid ones are published together.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from llmops_kit.auth import Principal, authenticate
from llmops_kit.feedback_tokens import TOKEN_HEADER, FeedbackTokenError, FeedbackTokenVerifier
from llmops_kit.http.edge import read_body, trace_id_of
from llmops_kit.http.limits import InFlightLimiter, requires_within
from llmops_kit.http.problems import ProblemError
from llmops_kit.kafka.publisher import EventPublisher

from llmops_feedback.entrypoints.openapi import (
    BATCH_DESCRIPTION,
    FEEDBACK_DESCRIPTION,
    AcceptedItem,
    BatchResult,
    batch_openapi_extra,
    feedback_openapi_extra,
    responses,
)
from llmops_feedback.errors import UNAVAILABLE
from llmops_feedback.handlers import Accepted, FeedbackContext, FeedbackRules, Submitter, prepare_batch, prepare_item
from llmops_feedback.metrics import count_items
from llmops_feedback.ports import SubmissionLimit

__all__ = ["LIMITER", "HttpDependencies", "build_router"]

log = logging.getLogger(__name__)

LIMITER = "feedback_limiter"
"""``app.state`` attribute of the per-key in-flight limit of the batch route."""


@dataclass(frozen=True, slots=True)
class HttpDependencies:
    """What the routes need, set on ``app.state.feedback`` by the bootstrap."""

    publisher: EventPublisher
    verifier: FeedbackTokenVerifier | None
    """None: no ``LLMOPS_FEEDBACK_TOKEN_SECRET``, so tokens are refused (503) and only keys work."""
    submissions: SubmissionLimit
    clock: Callable[[], datetime]
    source: str
    rules: FeedbackRules
    max_body_bytes: int
    max_items: int
    publish_timeout_s: float
    retry_after_s: int


async def _dependencies(request: Request) -> HttpDependencies:
    # async: FastAPI runs a plain `def` dependency in its thread pool, a thread hop per request (half the cost of
    # a one-item POST, in process on the busy build host: 3.4 ms before, 1.8 ms after).
    deps = getattr(request.app.state, "feedback", None)
    if not isinstance(deps, HttpDependencies):
        raise ProblemError(503, "Service Unavailable", "the feedback service is starting")
    return deps


def _decode(body: bytes) -> Any:
    try:
        return json.loads(body.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ProblemError(400, "Bad Request", f"the body is not valid UTF-8 (byte {exc.start})") from None
    except (ValueError, RecursionError) as exc:
        raise ProblemError(400, "Bad Request", f"malformed JSON: {exc}") from None


def _token_holder(token: str, deps: HttpDependencies) -> Submitter:
    if deps.verifier is None:
        raise ProblemError(
            503, "Service Unavailable", "feedback tokens are not accepted: LLMOPS_FEEDBACK_TOKEN_SECRET is not set"
        )
    try:
        claims = deps.verifier.verify(token)
    except FeedbackTokenError as exc:
        raise ProblemError(401, "Unauthorized", str(exc), reason=exc.reason) from None
    return Submitter(tenant_id=claims.tenant_id, token_call_id=claims.call_id)


def submitter(request: Request, deps: HttpDependencies) -> Submitter:
    """The end user a valid token names, or the key holder allowed ``feedback:write`` (401/403 otherwise)."""
    token = request.headers.get(TOKEN_HEADER)
    if token is None:
        principal = authenticate(request, "feedback:write")
        return Submitter(tenant_id=principal.tenant_id, key_id=principal.key_id)
    if request.headers.get("authorization") or request.headers.get("x-api-key"):
        raise ProblemError(400, "Bad Request", f"send an API key or a {TOKEN_HEADER}, not both")
    return _token_holder(token, deps)


def _admit_token_holder(who: Submitter, document: Any, deps: HttpDependencies) -> None:
    """A token rates its own call only, a bounded number of times."""
    if who.token_call_id is None:
        return
    call_id = document.get("call_id") if isinstance(document, dict) else None
    if call_id is None:
        return  # no item or no call: validation refuses it (422) and nothing is published
    if call_id != who.token_call_id:
        raise ProblemError(403, "Forbidden", "the feedback token is for another call than the item's `call_id`")
    delay = deps.submissions.admit(who.tenant_id, who.token_call_id)
    if delay is not None:
        raise ProblemError(
            429,
            "Too Many Requests",
            "this call has received as much feedback through its token as the window allows",
            headers={"Retry-After": str(max(1, int(delay + 0.999)))},
        )


def _slot(request: Request, who: Submitter) -> AbstractContextManager[None]:
    """One of the key's in-flight slots (429 when all are taken); a token holder is bounded per call instead."""
    limiter = getattr(request.app.state, LIMITER, None)
    if who.key_id is None or not isinstance(limiter, InFlightLimiter):
        return nullcontext()
    return limiter.slot(who.key_id)


def _context(request: Request, who: Submitter, deps: HttpDependencies) -> FeedbackContext:
    return FeedbackContext(
        submitter=who,
        source=deps.source,
        now=deps.clock(),
        rules=deps.rules,
        trace_id=trace_id_of(request.headers.get("traceparent")),
    )


async def _publish(accepted: Sequence[Accepted], who: Submitter, deps: HttpDependencies) -> None:
    """Publish every accepted item or raise a 503 naming the ones to send again (a retry is deduplicated)."""
    try:
        await asyncio.wait_for(deps.publisher.publish_many([a.event for a in accepted]), deps.publish_timeout_s)
    except UNAVAILABLE as exc:
        count_items(who.via, "unavailable", len(accepted))
        log.warning("publish of %d feedback items failed: %s", len(accepted), type(exc).__name__)
        raise ProblemError(
            503,
            "Service Unavailable",
            "Kafka did not acknowledge the feedback; send it again after Retry-After (a retry is stored once)",
            headers={"Retry-After": str(deps.retry_after_s)},
            not_accepted=[a.summary() for a in accepted],
        ) from None
    count_items(who.via, "accepted", len(accepted))


def _items(document: Any, max_items: int) -> list[Any]:
    if not isinstance(document, dict) or set(document) != {"items"} or not isinstance(document["items"], list):
        raise ProblemError(422, "Unprocessable Content", 'the body must be a JSON object {"items": [...]}')
    items = document["items"]
    if not items:
        raise ProblemError(422, "Unprocessable Content", "the batch must hold at least one item")
    if len(items) > max_items:
        raise ProblemError(
            413, "Content Too Large", f"{len(items)} items; at most {max_items} per request", limit=max_items
        )
    return items


Deps = Annotated[HttpDependencies, Depends(_dependencies)]


def build_router(max_items: int) -> APIRouter:
    """The feedback routes; ``max_items`` is what the OpenAPI document advertises as the batch limit."""
    router = APIRouter(tags=["feedback"])

    @router.post(
        "/v1/feedback",
        status_code=202,
        summary="Give feedback on one call",
        description=FEEDBACK_DESCRIPTION,
        response_model=AcceptedItem,
        responses=responses(batch=False),
        openapi_extra=feedback_openapi_extra(),
    )
    async def post_feedback(request: Request, deps: Deps) -> JSONResponse:
        """Validate one item and publish it (see the description)."""
        who = submitter(request, deps)
        with _slot(request, who):
            document = _decode(await read_body(request, deps.max_body_bytes))
            _admit_token_holder(who, document, deps)
            outcome = prepare_item(document, 0, _context(request, who, deps))
            if not isinstance(outcome, Accepted):
                count_items(who.via, "rejected")
                raise ProblemError(422, "Unprocessable Content", "the feedback is not valid", errors=outcome.errors)
            await _publish([outcome], who, deps)
        return JSONResponse(outcome.summary(), 202)

    @router.post(
        "/v1/feedback/batch",
        status_code=202,
        summary="Give feedback on many calls",
        description=BATCH_DESCRIPTION,
        response_model=BatchResult,
        responses=responses(batch=True),
        openapi_extra=batch_openapi_extra(max_items),
    )
    async def post_batch(
        request: Request,
        principal: Annotated[Principal, Depends(requires_within("feedback:write", LIMITER))],
        deps: Deps,
    ) -> JSONResponse:
        """Validate each item, publish the valid ones, and say which were accepted (see the description)."""
        who = Submitter(tenant_id=principal.tenant_id, key_id=principal.key_id)
        items = _items(_decode(await read_body(request, deps.max_body_bytes)), deps.max_items)
        accepted, invalid = prepare_batch(items, _context(request, who, deps))
        rejected = [r.summary() for r in invalid]
        count_items(who.via, "rejected", len(invalid))
        if not accepted:
            raise ProblemError(422, "Unprocessable Content", "every item was rejected", accepted=[], rejected=rejected)
        try:
            await _publish(accepted, who, deps)
        except ProblemError as exc:
            exc.extensions.update(accepted=[], rejected=rejected)
            raise
        return JSONResponse({"accepted": [a.summary() for a in accepted], "rejected": rejected}, 202)

    return router
