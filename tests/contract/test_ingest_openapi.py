"""Schemathesis against ingest's own OpenAPI document: generated requests (valid and invalid) never
cause a 5xx, and every answer conforms to what the document declares (status codes, content types,
response schemas).

The app runs in process with the in-memory publisher and a real API key, so no broker is needed.
Examples are kept modest (the record schema is large) so the module runs well under a minute.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import schemathesis
from hypothesis import HealthCheck, settings
from llmops_ingest.bootstrap import IngestPorts, create_app
from llmops_ingest.config import IngestSettings
from llmops_kit.auth import ApiKeyRecord, ApiKeyStore, hash_key
from llmops_kit.kafka.publisher import InMemoryPublisher

KEY = "llmops_contract_test_writer_key_0000000000"
HEADERS = {"Authorization": f"Bearer {KEY}"}
MAX_EXAMPLES = 40

_store = ApiKeyStore([ApiKeyRecord(id="contract", tenant_id="contract", role="writer", sha256=hash_key(KEY))])
app = create_app(IngestSettings(), ports=IngestPorts(publisher=InMemoryPublisher(), api_keys=_store))

config = schemathesis.Config.from_dict(
    {
        "headers": HEADERS,
        "generation": {"max-examples": MAX_EXAMPLES},
        "checks": {
            # Schema-valid records can still fail ingest's contextual rules, which JSON Schema cannot
            # express: `started_at` within [now - 90 days, now + 5 minutes] and the 1,000,000-byte event
            # limit. A batch where every record fails them is a documented 422.
            "positive_data_acceptance": {"expected-statuses": ["2xx", "401", "403", "422"]},
            # Validation is per record: a batch with one schema-violating record is still a 202 that lists
            # the record under `rejected`, which this check would call "invalid data accepted". Negative
            # cases still run, for no-5xx and for status/content-type/response-schema conformance.
            "negative_data_rejection": {"enabled": False},
        },
    }
)
schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=config)


def _recent(value: Any) -> Any:
    """Today's date for a well-formed, aware ``started_at`` (keeps malformed ones, so invalid stays invalid)."""
    if not isinstance(value, str):
        return value
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    if parsed.tzinfo is None:
        return value
    return (datetime.now(UTC) - timedelta(minutes=1)).isoformat()


@schema.hook
def map_body(context: schemathesis.HookContext, body: Any) -> Any:
    """Bring every other record's ``started_at`` into the accepted window, so the 202 path is exercised too.

    Hypothesis draws date-times from all of history, which would almost always be the 90-day rule's 422.
    """
    calls = body.get("calls") if isinstance(body, dict) else None
    if isinstance(calls, list):
        for record in calls[::2]:
            if isinstance(record, dict) and "started_at" in record:
                record["started_at"] = _recent(record["started_at"])
    return body


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_openapi_document(case: Any) -> None:
    response = case.call_and_validate(headers=HEADERS)
    if case.path == "/v1/calls" and response.status_code == 202:
        # Every record is accounted for exactly once, by its position in the request.
        body = response.json()
        indexes = sorted([a["index"] for a in body["accepted"]] + [r["index"] for r in body["rejected"]])
        assert indexes == list(range(len(case.body["calls"])))
