"""HTTP API of review queues: ``/v1/review/queues`` and the actions on a queue's items.

Creating a queue and assigning items need ``admin``; claiming, releasing and reviewing need ``feedback:write``
(the ``reviewer`` role); reading queues and items needs ``calls:read``. The tenant is always the caller's, and
the reviewer is the caller's API key id. Item ids (call ids may hold ``/``) travel in bodies, not paths.
A tenant key's read of a queue's items (reviewers' corrections and comments on stored calls) is a privileged
read, on the audit trail before the items are sent (docs/governance.md, "Privileged reads"); so is every item
action (next, claim, release, assign, review), whose answer is the item: its entry is written before the change,
and an entry Kafka does not take refuses the action with nothing changed (docs/adr/0052).
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from llmops_kit.access_audit import audit_read, filter_names
from llmops_kit.audit import Actor
from llmops_kit.auth import Principal, requires
from llmops_kit.http.problems import ProblemError, problem_response
from llmops_schemas.v1 import Review, ReviewItemUpdated, ReviewQueueConfigured
from llmops_schemas.v1.common import Identifier, MediumText, ShortText, Slug
from llmops_schemas.v1.feedback import CorrectionText
from llmops_schemas.v1.review import MAX_REVIEWS_PER_ITEM
from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationError

from llmops_feedback.metrics import REVIEW_REFUSED
from llmops_feedback.review.desk import ItemAudit, QueueSpec, ReviewDesk
from llmops_feedback.review.progress import Agreement, Progress, agreement, progress
from llmops_feedback.review.rules import ReviewRefused

__all__ = ["DESK", "review_router"]

DESK = "review_desk"
"""``app.state`` attribute of the :class:`ReviewDesk`."""

PROBLEMS: dict[int | str, dict[str, Any]] = {
    status: {"description": text, "content": {"application/problem+json": {}}}
    for status, text in {
        400: "The body is not JSON",
        401: "No or an unknown API key",
        403: "The key's role lacks the permission",
        404: "No such queue or item (`reason`: unknown_queue, unknown_item)",
        409: "The item is locked by another reviewer, your lock expired, you reviewed it already, it is done, "
        "or the queue exists (`reason` says which)",
        413: "The body, or the queue's max_items, is larger than the service accepts",
        422: "Invalid body: an out-of-range rating, a label the queue does not offer, unknown source params",
        502: "The warehouse refused the history read",
        503: "The review state is loading, or Kafka or the warehouse is unavailable; see Retry-After",
    }.items()
}

Reader = Annotated[Principal, Depends(requires("calls:read"))]
Reviewer = Annotated[Principal, Depends(requires("feedback:write"))]
Admin = Annotated[Principal, Depends(requires("admin"))]
QueueName = Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class QueueIn(_Body):
    """A queue to create: where its items come from (``source`` and ``params``) and how they are reviewed."""

    name: Slug
    description: ShortText | None = None
    source: Slug = Field(description="low_score, negative_feedback, sample, dataset (drift: not yet)")
    params: Annotated[dict[str, JsonValue], Field(max_length=32)] = Field(default_factory=dict)
    labels: Annotated[list[Slug], Field(max_length=64)] = Field(default_factory=list)
    reviews_per_item: int = Field(strict=True, default=1, ge=1, le=MAX_REVIEWS_PER_ITEM)
    lock_ttl_s: int = Field(strict=True, default=900, ge=10, le=86_400)
    max_items: int = Field(strict=True, default=500, ge=1, le=100_000)


class ItemRef(_Body):
    """The item an action is about."""

    item_id: Identifier


class AssignIn(ItemRef):
    """Reserve the item for one reviewer (their API key id); ``null`` frees it for anyone."""

    assignee: Identifier | None


class ReviewIn(ItemRef):
    """A review of an item you claimed: at least one of verdict, label, rating or correction."""

    verdict: Literal["approve", "reject"] | None = None
    label: Slug | None = None
    rating: int | None = Field(strict=True, default=None, ge=1, le=5)
    correction: CorrectionText | None = None
    comment: MediumText | None = None


class QueueView(BaseModel):
    """A queue, how far its review is, and how well its reviewers agree (items reviewed twice)."""

    queue: ReviewQueueConfigured
    progress: dict[str, Any]
    agreement: list[dict[str, Any]]


class Created(BaseModel):
    """The created queue, with how many items its source found and whether history was cut at the bound."""

    queue: ReviewQueueConfigured
    items: int
    history_truncated: bool


class ItemPage(BaseModel):
    items: list[ReviewItemUpdated]


async def _desk(request: Request) -> ReviewDesk:
    desk = getattr(request.app.state, DESK, None)
    if not isinstance(desk, ReviewDesk):
        raise ProblemError(503, "Service Unavailable", "review queues are starting")
    return desk


Desk = Annotated[ReviewDesk, Depends(_desk)]


def _problem(exc: ReviewRefused) -> ProblemError:
    REVIEW_REFUSED.labels(exc.reason).inc()
    headers = {"Retry-After": str(exc.retry_after_s)} if exc.retry_after_s else None
    return ProblemError(exc.status, HTTPStatus(exc.status).phrase, exc.detail, reason=exc.reason, headers=headers)


def _progress_of(value: Progress) -> dict[str, Any]:
    return {
        "items": value.items, "open": value.open, "locked": value.locked, "done": value.done,
        "reviews": value.reviews, "reviews_wanted": value.reviews_wanted, "fraction_done": value.fraction_done,
    }  # fmt: skip


def _agreement_of(values: list[Agreement]) -> list[dict[str, Any]]:
    return [{"answer": a.answer, "items": a.items, "kappa": a.kappa, "observed": a.observed} for a in values]


def _view(desk: ReviewDesk, tenant: str, queue: ReviewQueueConfigured) -> QueueView:
    items = desk.state.items(tenant, queue.name).values()
    return QueueView(
        queue=queue,
        progress=_progress_of(progress(items, queue.reviews_per_item, desk.now())),
        agreement=_agreement_of(agreement(items)),
    )


def _audited(request: Request, principal: Principal, action: str) -> ItemAudit | None:
    """The audit of an item action by a tenant key (``review_item.<action>`` on the item, its queue named);
    a platform service's key is no person reading, as for the items' list."""
    if principal.is_platform:
        return None

    async def audit(item: ReviewItemUpdated, outcome: Literal["success", "failure"]) -> None:
        details: dict[str, JsonValue] = {"queue": item.queue, "change": item.action}
        resource = ("review_item", item.item_id)
        await audit_read(request, principal, action=f"review_item.{action}", resource=resource, details=details,
                         outcome=outcome)  # fmt: skip

    return audit


review_router = APIRouter(prefix="/v1/review", tags=["review queues"], responses=PROBLEMS)


@review_router.post("/queues", status_code=201, response_model=Created, summary="Create a review queue")
async def create_queue(body: QueueIn, request: Request, principal: Admin, desk: Desk) -> Created:
    """Choose items from the tenant's history by ``source`` (``low_score``: params ``evaluator``, ``below``,
    optional ``metric``; ``negative_feedback``: optional ``max_rating``, default 2; ``sample``: ``size``,
    optional ``seed``, ``model``, ``prompt_name``; ``dataset``: ``dataset``, optional ``version``,
    ``call_ids``; every source: optional ``start``, ``end`` (default the last 7 days) and ``app``), at most
    ``max_items``, and publish the queue, its items and an audit entry."""
    spec = QueueSpec(**body.model_dump())
    try:
        queue, picked = await desk.create_queue(principal.tenant_id, Actor.of(principal, request), spec)
    except ReviewRefused as exc:
        raise _problem(exc) from None
    return Created(queue=queue, items=len(picked.candidates), history_truncated=picked.truncated)


@review_router.get("/queues", response_model=list[QueueView], summary="The tenant's review queues")
async def list_queues(principal: Reader, desk: Desk) -> list[QueueView]:
    """Every queue of the caller's tenant with its progress and agreement."""
    try:
        desk.check_ready()
    except ReviewRefused as exc:
        raise _problem(exc) from None
    return [_view(desk, principal.tenant_id, q) for q in desk.state.queues(principal.tenant_id)]


@review_router.get("/queues/{queue}", response_model=QueueView, summary="One queue's progress and agreement")
async def get_queue(queue: QueueName, principal: Reader, desk: Desk) -> QueueView:
    """Items open, locked and done, reviews given against wanted, and Cohen's kappa per answer kind."""
    try:
        return _view(desk, principal.tenant_id, desk.queue(principal.tenant_id, queue))
    except ReviewRefused as exc:
        raise _problem(exc) from None


@review_router.get("/queues/{queue}/items", response_model=ItemPage, summary="A queue's items")
async def list_items(
    queue: QueueName,
    request: Request,
    principal: Reader,
    desk: Desk,
    status: Annotated[Literal["open", "done"] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> ItemPage:
    """The queue's items in the order they are handed out, optionally only ``open`` or ``done`` ones. A tenant
    key's read is audited (``review_items.read``); 503 with ``Retry-After`` when its entry cannot be written."""
    try:
        desk.queue(principal.tenant_id, queue)
    except ReviewRefused as exc:
        raise _problem(exc) from None
    items = (i for i in desk.state.items(principal.tenant_id, queue).values() if status in (None, i.status))
    page = ItemPage(items=[i for _, i in zip(range(limit), items, strict=False)])
    if not principal.is_platform:  # a platform service's key is no person reading (as the warehouse's calls)
        details = filter_names({"status": status})
        resource = ("review_queue", queue)
        await audit_read(request, principal, action="review_items.read", resource=resource, details=details)
    return page


@review_router.post(
    "/queues/{queue}/next",
    response_model=ReviewItemUpdated,
    responses={204: {"description": "No item is left for you in this queue"}},
    summary="Claim the next item to review",
)
async def next_item(queue: QueueName, request: Request, principal: Reviewer, desk: Desk) -> Any:
    """Lock the first open item you have not reviewed (and that is free or assigned to you) for the queue's
    ``lock_ttl_s``; 204 when none is left. Audited (``review_item.next``) before the lock is taken: 503 with
    ``Retry-After``, and no lock, when the entry cannot be written (as every item action below)."""
    audit = _audited(request, principal, "next")
    try:
        item = await desk.next_item(principal.tenant_id, queue, Actor.of(principal, request).id, audit)
    except ReviewRefused as exc:
        raise _problem(exc) from None
    return Response(status_code=204) if item is None else item


@review_router.post("/queues/{queue}/claim", response_model=ReviewItemUpdated, summary="Claim one item")
async def claim(queue: QueueName, body: ItemRef, request: Request, principal: Reviewer, desk: Desk) -> Any:
    """Lock ``item_id`` for you (renews your own lock); 409 when another reviewer holds it."""
    try:
        return await desk.claim(
            principal.tenant_id, queue, body.item_id, Actor.of(principal, request).id,
            _audited(request, principal, "claim"),
        )  # fmt: skip
    except ReviewRefused as exc:
        raise _problem(exc) from None


@review_router.post("/queues/{queue}/release", response_model=ReviewItemUpdated, summary="Give an item back")
async def release(queue: QueueName, body: ItemRef, request: Request, principal: Reviewer, desk: Desk) -> Any:
    """Unlock an item you claimed, unreviewed."""
    try:
        return await desk.release(
            principal.tenant_id, queue, body.item_id, Actor.of(principal, request).id,
            _audited(request, principal, "release"),
        )  # fmt: skip
    except ReviewRefused as exc:
        raise _problem(exc) from None


@review_router.post("/queues/{queue}/assign", response_model=ReviewItemUpdated, summary="Assign an item")
async def assign(queue: QueueName, body: AssignIn, request: Request, principal: Admin, desk: Desk) -> Any:
    """Reserve an open item for one reviewer (their API key id), or for anyone with ``null``."""
    actor = Actor.of(principal, request).id
    try:
        audit = _audited(request, principal, "assign")
        return await desk.assign(principal.tenant_id, queue, body.item_id, body.assignee, actor, audit)
    except ReviewRefused as exc:
        raise _problem(exc) from None


@review_router.post("/queues/{queue}/reviews", response_model=ReviewItemUpdated, summary="Review an item")
async def review(queue: QueueName, body: ReviewIn, request: Request, principal: Reviewer, desk: Desk) -> Any:
    """Record your review of an item you hold (409 on an expired lock or a second review by you; 422 for a
    label the queue does not offer). The review is also published as feedback on the call."""
    fields = body.model_dump(exclude={"item_id"}, exclude_none=True)
    try:
        given = Review(reviewer=Actor.of(principal, request).id, reviewed_at=desk.now(), **fields)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False, include_context=False)
        raise ProblemError(422, "Unprocessable Content", errors[0]["msg"].removeprefix("Value error, ")) from None
    try:
        return await desk.review(
            principal.tenant_id, queue, body.item_id, given, _audited(request, principal, "review")
        )
    except ReviewRefused as exc:
        raise _problem(exc) from None


@review_router.api_route(
    "/queues", methods=["PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"], include_in_schema=False, status_code=405
)
async def queues_other_methods() -> Response:
    """405 naming both methods of the path: GET and POST are two routes, and Starlette's own 405 would name one."""
    return problem_response(405, "Method Not Allowed", "Method Not Allowed", headers={"Allow": "GET, POST"})
