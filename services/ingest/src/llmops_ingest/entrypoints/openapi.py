"""The OpenAPI description of ``POST /v1/calls``.

The route parses its body itself (for precise errors and streaming limits), so FastAPI cannot infer
the request schema; it is spelled out here from the same pydantic models that validate records, so
the documentation and schemathesis see exactly what ingest enforces.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from llmops_kit.http.problems import FieldProblem, add_openapi_components, model_components, problem_doc
from llmops_kit.http.problems import Problem as BaseProblem
from llmops_schemas.v2 import CallRecorded
from pydantic import BaseModel, Field

__all__ = ["CALLS_DESCRIPTION", "BatchResult", "calls_openapi_extra", "calls_responses", "install_openapi"]

_REF = "#/components/schemas/{model}"


class AcceptedRecord(BaseModel):
    index: int = Field(ge=0, description="Position of the record in `calls`")
    call_id: str = Field(description="The client's call id, or the one ingest derived from the record's content")
    event_id: str = Field(description="Id of the published CloudEvent (the same for a retry of the record)")


class RejectedRecord(BaseModel):
    index: int = Field(ge=0, description="Position of the record in `calls`")
    errors: list[FieldProblem]


class BatchResult(BaseModel):
    """Which records were published and which were refused, by position in the request."""

    accepted: list[AcceptedRecord]
    rejected: list[RejectedRecord]


class Problem(BaseProblem):
    """An RFC 9457 problem document, with ingest's per-record and parse-position members."""

    rejected: list[RejectedRecord] | None = Field(
        default=None, description="Per-record errors (422: all records; 503: the invalid ones)"
    )
    accepted: list[AcceptedRecord] | None = Field(
        default=None, description="503: the records Kafka acknowledged (do not send them again)"
    )
    not_accepted: list[AcceptedRecord] | None = Field(
        default=None, description="503: valid records Kafka did not acknowledge; send them again after Retry-After"
    )
    position: dict[str, int] | None = Field(default=None, description="Where malformed JSON broke (400)")


CALLS_DESCRIPTION = """\
Publish a batch of LLM call records as `llmops.call.recorded.v2` CloudEvents on `llmops.calls.recorded`.

**Body**: `application/json` (UTF-8), an object `{"calls": [record, ...]}` with 1 to 1,000 records and at
most 10 MiB. A bare JSON array is not accepted. Each record has the `llmops.call.recorded.v2` shape (a record
of the v1 shape, with `output` / `finish_reason` and no `choices`, is still accepted: they become the first choice);
`call_id` may be omitted (or null) and ingest derives one from the record's content and tenant (a UUIDv5
of its canonical JSON): records identical in every field are one call. The tenant comes from the API key,
never from the body (a `tenant_id` field is an unknown field and rejected); the event carries the key's
id (`keyid`). `origin` may only be `application` (the default): the gateway alone marks platform calls.

**Per-record validation** (one record's errors never reject the others):
the strict schema (unknown fields refused, `status: "error"` needs `error` and `status: "ok"` forbids it);
`started_at` must carry a timezone, be at most 5 minutes in the future (clock skew) and not older than
90 days (the calls retention: older rows would be deleted on arrival); the event, serialised, must be at
most 1,000,000 bytes.

**Idempotency**: the event id is derived from (tenant, `call_id`, `started_at`), and a missing `call_id`
from the record's content, so retrying a batch publishes the same event ids and downstream sinks
deduplicate: a retried record is stored once.

**Responses**: `202` with `accepted` and `rejected` (by index) when at least one record was published;
`422` problem (with `rejected`) when none was valid or the body is not `{"calls": [...]}`; `400` for
malformed JSON (with its position) or invalid UTF-8; `413` for a body over 10 MiB or over 1,000 records
(split the batch); `415` unless `Content-Type: application/json`; `401`/`403` for the key; `429` with
`Retry-After` when the key already has 16 batches in flight; `503` with `Retry-After` when Kafka does not
acknowledge every record: the problem lists by index and `call_id` the records that were `accepted`
(acknowledged), the ones `not_accepted` (send them again; they may already be stored, the retry is
deduplicated) and the `rejected` ones. Errors are `application/problem+json`.
"""


def _record_schema() -> tuple[dict[str, Any], dict[str, Any]]:
    """The record schema as a client sends it (``call_id`` optional) and the definitions it refers to."""
    schema = CallRecorded.model_json_schema(ref_template=_REF)
    definitions = schema.pop("$defs", {})
    schema["title"] = "CallRecordIn"
    schema["required"] = [name for name in schema["required"] if name != "call_id"]
    call_id = schema["properties"]["call_id"]
    schema["properties"]["call_id"] = {
        "anyOf": [{k: v for k, v in call_id.items() if k not in {"title", "description"}}, {"type": "null"}],
        "description": "Optional: omitted or null, ingest derives one from the record's content",
    }
    return schema, definitions


def calls_openapi_extra(max_records: int) -> dict[str, Any]:
    """``openapi_extra`` for the route: the request body schema."""
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["calls"],
                        "properties": {
                            "calls": {
                                "type": "array",
                                "minItems": 1,
                                "maxItems": max_records,
                                "items": {"$ref": _REF.format(model="CallRecordIn")},
                            }
                        },
                    }
                }
            },
        }
    }


def calls_responses() -> dict[int | str, dict[str, Any]]:
    """Every answer ``POST /v1/calls`` can give besides 202."""
    return {
        400: problem_doc("Malformed JSON or invalid UTF-8"),
        401: problem_doc("Missing or unknown API key"),
        403: problem_doc("The key's role lacks `calls:write`"),
        413: problem_doc("Body over the size limit or more records than allowed"),
        415: problem_doc("Content-Type is not application/json (UTF-8)"),
        422: problem_doc("The body is not {calls: [...]}, or every record was rejected"),
        429: problem_doc("The key has too many batches in flight; retry after Retry-After seconds"),
        503: problem_doc(
            "Kafka (or authentication) unavailable; `accepted`/`not_accepted` say which records Kafka acknowledged"
        ),
    }


def install_openapi(app: FastAPI) -> None:
    """Add the record and problem schemas to the app's OpenAPI components (FastAPI builds the rest)."""

    def components() -> dict[str, Any]:
        record, definitions = _record_schema()
        return {**definitions, **model_components(Problem=Problem), "CallRecordIn": record}

    add_openapi_components(app, components)
