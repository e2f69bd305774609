"""The one validation path every feedback item takes, from a reviewer's batch or an end user's token.

``prepare_item`` turns one decoded JSON value into an event ready to publish or a list of errors: the strict
payload model (``llmops.feedback.received.v2``: kinds and their fields, bounded texts), the ``given_at`` window,
then the envelope. Nothing here knows about HTTP.

**Idempotency.** The event id is derived from (tenant, ``feedback_id``) with ``given_at`` as its time, and the
envelope's time is ``given_at``: a retry of the same item is the same event, which the warehouse stores once
(it deduplicates on tenant, time and event id). The same ``feedback_id`` sent again with a new ``given_at`` is a
new version of that feedback (a changed vote): both are stored, and readers take the latest per ``feedback_id``.

**Tenancy.** The tenant is the key's or the token's, never the body's. A ``call_id`` need not be known: feedback
may arrive before its call (events come in either order), and is joined to it by (tenant, ``call_id``) when read
(docs/feedback.md); a call of another tenant is simply not found by that join.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from llmops_schemas.envelope import CloudEvent, EventPayload
from llmops_schemas.ids import deterministic_uuid7
from llmops_schemas.v2 import FeedbackReceived
from pydantic import ValidationError

__all__ = [
    "END_USER_SOURCE",
    "Accepted",
    "FeedbackContext",
    "FeedbackRules",
    "Rejected",
    "Submitter",
    "feedback_event_id",
    "prepare_batch",
    "prepare_item",
]

FieldError = dict[str, Any]
"""``{"loc": [...], "msg": "...", "type": "..."}``, the shape pydantic uses, relative to the item."""

END_USER_SOURCE = "end-user"
"""The ``source`` of feedback given with a feedback token (a key holder names its own, default ``api``)."""
KEY_SOURCE = "api"
MAX_ERRORS_PER_ITEM = 20
_TRACE_ID = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True, slots=True)
class Submitter:
    """Who submits: a key (reviewer, application backend) or an end user holding a token for one call."""

    tenant_id: str
    key_id: str | None = None
    """The API key's id; None for an end user with a token."""
    token_call_id: str | None = None
    """With a token: the one call it may rate."""

    @property
    def via(self) -> str:
        return "key" if self.token_call_id is None else "token"


@dataclass(frozen=True, slots=True)
class FeedbackRules:
    """How far ``given_at`` may lie from now (client clocks skew; the warehouse keeps feedback 400 days)."""

    max_future_skew: timedelta = timedelta(minutes=5)
    max_age: timedelta = timedelta(days=365)


@dataclass(frozen=True, slots=True)
class FeedbackContext:
    """Everything an item is judged against."""

    submitter: Submitter
    source: str
    """The CloudEvents ``source`` of the events."""
    now: datetime
    rules: FeedbackRules
    trace_id: str | None = None
    """The request's W3C trace id (``traceparent``); an item's own ``trace_id`` takes precedence."""


@dataclass(frozen=True, slots=True)
class Accepted:
    """A valid item, enveloped and ready to publish."""

    index: int
    event: CloudEvent[EventPayload]

    @property
    def feedback(self) -> FeedbackReceived:
        return cast("FeedbackReceived", self.event.data)

    def summary(self) -> dict[str, Any]:
        data = self.feedback
        return {
            "index": self.index,
            "feedback_id": data.feedback_id,
            "call_id": data.call_id,
            "event_id": self.event.id,
        }


@dataclass(frozen=True, slots=True)
class Rejected:
    """An invalid item: where it was in the request and why it failed."""

    index: int
    errors: list[FieldError]

    def summary(self) -> dict[str, Any]:
        return {"index": self.index, "errors": self.errors}


def _error(loc: Sequence[str | int], msg: str, type_: str) -> FieldError:
    return {"loc": list(loc), "msg": msg, "type": type_}


def feedback_event_id(tenant_id: str, feedback_id: str, given_at: datetime) -> str:
    """The event id of a feedback item: the same for a retry, different for another tenant or version."""
    return deterministic_uuid7(int(given_at.timestamp() * 1000), tenant_id, "feedback", feedback_id)


def _trace_id(raw: dict[str, Any], fallback: str | None) -> str | FieldError | None:
    value = raw.pop("trace_id", None)
    if value is None:
        return fallback
    if not isinstance(value, str) or not _TRACE_ID.fullmatch(value) or not int(value, 16):
        return _error(["trace_id"], "trace_id is a W3C trace id: 32 lower-case hex digits, not all zero", "trace_id")
    return value


def _source(raw: dict[str, Any], submitter: Submitter) -> FieldError | None:
    """A token's feedback is the end user's: it may not claim another source (a review queue, say)."""
    if submitter.token_call_id is None:
        raw.setdefault("source", KEY_SOURCE)
        return None
    if raw.get("source", END_USER_SOURCE) != END_USER_SOURCE:
        return _error(
            ["source"], f"feedback given with a feedback token has source '{END_USER_SOURCE}'", "source_not_allowed"
        )
    raw["source"] = END_USER_SOURCE
    return None


def _check_given_at(given_at: datetime, now: datetime, rules: FeedbackRules) -> list[FieldError]:
    if given_at > now + rules.max_future_skew:
        ahead = (given_at - now).total_seconds()
        limit = rules.max_future_skew.total_seconds()
        return [
            _error(
                ["given_at"],
                f"given_at is {ahead:.0f}s in the future; at most {limit:.0f}s of clock skew is allowed",
                "timestamp_in_future",
            )
        ]
    if given_at < now - rules.max_age:
        return [_error(["given_at"], f"given_at is older than {rules.max_age.days} days", "timestamp_too_old")]
    return []


def prepare_item(raw: Any, index: int, context: FeedbackContext) -> Accepted | Rejected:
    """Validate one decoded item and envelope it, or explain why not."""
    if not isinstance(raw, dict):
        return Rejected(index, [_error([], "a feedback item is a JSON object", "model_type")])
    item = dict(raw)
    trace_id = _trace_id(item, context.trace_id)
    if isinstance(trace_id, dict):
        return Rejected(index, [trace_id])
    source_error = _source(item, context.submitter)
    if source_error is not None:
        return Rejected(index, [source_error])
    try:
        feedback = FeedbackReceived.model_validate(item)
    except ValidationError as exc:
        details = exc.errors(include_url=False, include_input=False, include_context=False)
        return Rejected(index, [_error(e["loc"], e["msg"], e["type"]) for e in details[:MAX_ERRORS_PER_ITEM]])
    errors = _check_given_at(feedback.given_at, context.now, context.rules)
    if errors:
        return Rejected(index, errors)
    tenant = context.submitter.tenant_id
    event = CloudEvent.wrap(
        feedback,
        source=context.source,
        tenant_id=tenant,
        event_id=feedback_event_id(tenant, feedback.feedback_id, feedback.given_at),
        subject=feedback.call_id,
        trace_id=trace_id,
        key_id=context.submitter.key_id,
    )
    # The envelope's time is given_at, not now: the warehouse deduplicates on (tenant, time, event id).
    event = event.model_copy(update={"time": feedback.given_at})
    return Accepted(index, cast("CloudEvent[EventPayload]", event))


def prepare_batch(items: Sequence[Any], context: FeedbackContext) -> tuple[list[Accepted], list[Rejected]]:
    """``prepare_item`` for each item, so one bad item never sinks the others."""
    accepted: list[Accepted] = []
    rejected: list[Rejected] = []
    for index, raw in enumerate(items):
        outcome = prepare_item(raw, index, context)
        if isinstance(outcome, Accepted):
            accepted.append(outcome)
        else:
            rejected.append(outcome)
    return accepted, rejected
