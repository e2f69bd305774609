"""The OpenAPI description of the feedback routes.

The routes parse their bodies themselves (per-item errors, a token checked against the body's call), so
FastAPI cannot infer the request schemas; they are spelled out here from the payload model that validates
items, so the document and schemathesis see exactly what the service enforces.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from llmops_kit.auth import declares
from llmops_kit.feedback_tokens import TOKEN_HEADER
from llmops_kit.http.problems import FieldProblem, add_openapi_components, model_components, problem_doc
from llmops_kit.http.problems import Problem as BaseProblem
from llmops_schemas.v2 import FeedbackReceived
from pydantic import BaseModel, Field

__all__ = [
    "BATCH_DESCRIPTION",
    "FEEDBACK_DESCRIPTION",
    "AcceptedItem",
    "BatchResult",
    "batch_openapi_extra",
    "feedback_openapi_extra",
    "install_openapi",
    "responses",
]

_REF = "#/components/schemas/{model}"
ITEM = "FeedbackIn"


class AcceptedItem(BaseModel):
    """One published feedback item."""

    index: int = Field(ge=0, description="Position of the item in `items` (0 for a single item)")
    feedback_id: str
    call_id: str
    event_id: str = Field(description="Id of the published CloudEvent (the same for a retry of the item)")


class RejectedItem(BaseModel):
    index: int = Field(ge=0, description="Position of the item in `items`")
    errors: list[FieldProblem]


class BatchResult(BaseModel):
    """Which items were published and which were refused, by position in the request."""

    accepted: list[AcceptedItem]
    rejected: list[RejectedItem]


class Problem(BaseProblem):
    """An RFC 9457 problem document, with the feedback service's members."""

    rejected: list[RejectedItem] | None = Field(default=None, description="Per-item errors (batch 422 and 503)")
    not_accepted: list[AcceptedItem] | None = Field(
        default=None, description="503: valid items Kafka did not acknowledge; send them again after Retry-After"
    )
    reason: str | None = Field(default=None, description="401 with a token: `malformed`, `forged` or `expired`")


FEEDBACK_DESCRIPTION = f"""\
Publish one feedback item as a `llmops.feedback.received.v2` CloudEvent on `llmops.feedback.received`.

**Who**: an API key whose role has `feedback:write` (reviewer, writer, admin), or an end user holding the
`{TOKEN_HEADER}` the gateway returned with the answer, sent in the header of the same name: the token lets
its holder rate that one call (another `call_id` is a 403), at most a few times per window (429), with
`source` `end-user`. Send a key or a token, not both.

**Body**: one item (`application/json`): `feedback_id` (yours, the idempotency key), `call_id`, `kind` and its
field (`thumbs`: `value` 0 or 1; `rating`: `value` 1 to 5; `label`: `label`; `correction`: `correction`;
`comment`: `comment`), optional `comment`, `user_id`, `session_id`, `trace_id`, `metadata`, and `given_at`
(when it was given, with a time zone: at most 5 minutes ahead, at most 365 days old).

**Idempotency**: the event id derives from (tenant, `feedback_id`, `given_at`): resend the same item after an
error or a timeout, it is stored once. The same `feedback_id` with a later `given_at` replaces the earlier
feedback for readers. A `call_id` the warehouse does not hold (yet) is accepted: feedback is joined to its call
when read.
"""

BATCH_DESCRIPTION = """\
Publish up to 500 feedback items (`{"items": [item, ...]}`), each validated on its own as on
`POST /v1/feedback`: `202` lists the `accepted` and `rejected` items by index; `422` when none was valid; `503`
with `Retry-After` and `not_accepted` when Kafka did not acknowledge them (resending the batch is safe). API keys
with `feedback:write` only (not tokens).
"""


def _item_schema() -> tuple[dict[str, Any], dict[str, Any]]:
    """The item schema as a client sends it (the payload plus an optional ``trace_id``) and its definitions."""
    schema = FeedbackReceived.model_json_schema(ref_template=_REF)
    definitions = schema.pop("$defs", {})
    schema["title"] = ITEM
    schema["properties"]["trace_id"] = {
        "type": "string",
        "pattern": "^[0-9a-f]{32}$",
        "description": "W3C trace id of the answer's trace (default: the request's traceparent)",
    }
    return schema, definitions


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def feedback_openapi_extra() -> dict[str, Any]:
    """``openapi_extra`` of ``POST /v1/feedback``: its body, and the token as a way to authorise it."""
    return {
        **_body({"$ref": _REF.format(model=ITEM)}),
        **declares("feedback:write"),
        "security": [{"HTTPBearer": []}, {"APIKeyHeader": []}, {"FeedbackToken": []}],
    }


def batch_openapi_extra(max_items: int) -> dict[str, Any]:
    """``openapi_extra`` of ``POST /v1/feedback/batch``."""
    items = {"type": "array", "minItems": 1, "maxItems": max_items, "items": {"$ref": _REF.format(model=ITEM)}}
    schema = {"type": "object", "additionalProperties": False, "required": ["items"], "properties": {"items": items}}
    return {**_body(schema), **declares("feedback:write")}


def responses(*, batch: bool) -> dict[int | str, dict[str, Any]]:
    """Every answer a feedback route can give besides 202."""
    documented: dict[int | str, dict[str, Any]] = {
        400: problem_doc("Malformed JSON, or both a key and a token"),
        401: problem_doc("Missing or unknown API key; malformed, forged or expired feedback token"),
        403: problem_doc("The key's role lacks `feedback:write`, or the token is for another call"),
        413: problem_doc("Body over the size limit" + (" or more items than allowed" if batch else "")),
        422: problem_doc(
            "The item is not valid" + (" (every item, or the body is not {items: [...]})" if batch else "")
        ),
        429: problem_doc("Too many requests in flight for the key, or feedback for the token's call; see Retry-After"),
        503: problem_doc("Kafka (or authentication, or feedback tokens) unavailable; retry after Retry-After"),
    }
    return documented


def install_openapi(app: FastAPI) -> None:
    """Add the item and problem schemas, and the token's security scheme, to the app's OpenAPI document."""

    def components() -> dict[str, Any]:
        item, definitions = _item_schema()
        return {**definitions, **model_components(Problem=Problem), ITEM: item}

    add_openapi_components(app, components)
    build = app.openapi

    def openapi() -> dict[str, Any]:
        document = build()
        schemes = document["components"].setdefault("securitySchemes", {})
        schemes.setdefault("FeedbackToken", {"type": "apiKey", "in": "header", "name": TOKEN_HEADER})
        return document

    app.openapi = openapi  # type: ignore[method-assign]
