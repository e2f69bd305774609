"""Schemathesis against the feedback service's own OpenAPI document: generated requests (valid and invalid) never
cause a 5xx, and every answer conforms to what the document declares (status codes, content types, schemas).

The app runs in process with the kit's in-memory publisher and a real reviewer key, so no broker is needed.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import schemathesis
from hypothesis import HealthCheck, settings
from llmops_feedback.bootstrap import FeedbackPorts, create_app
from llmops_feedback.config import FeedbackSettings
from llmops_feedback.review.state import ReviewState
from llmops_kit.auth import ApiKeyRecord, ApiKeyStore, hash_key
from llmops_kit.feedback_tokens import FeedbackTokenVerifier
from llmops_kit.kafka.publisher import InMemoryPublisher

from tests.unit.feedback.history import InMemoryHistory

KEY = "llmops_contract_test_reviewer_key_0000000"
HEADERS = {"Authorization": f"Bearer {KEY}"}
MAX_EXAMPLES = 40

_store = ApiKeyStore([ApiKeyRecord(id="contract", tenant_id="contract", role="reviewer", sha256=hash_key(KEY))])
_tokens = FeedbackTokenVerifier([b"contract-test-feedback-token-secret-0000"])
_review = ReviewState()
_review.queues_view.mark_caught_up()
_review.items_view.mark_caught_up()
_ports = FeedbackPorts(
    publisher=InMemoryPublisher(), api_keys=_store, verifier=_tokens, review_state=_review, history=InMemoryHistory()
)
app = create_app(FeedbackSettings(), ports=_ports)

config = schemathesis.Config.from_dict(
    {
        "headers": HEADERS,
        "generation": {"max-examples": MAX_EXAMPLES},
        "checks": {
            # Schema-valid items can still fail rules JSON Schema cannot express: which fields each kind carries
            # (a rating's value is a whole number) and `given_at` within [now - 365 days, now + 5 minutes].
            # Schemathesis also fills the FeedbackToken security scheme: a key and a token together are a
            # documented 400, a generated token a 401 (not signed with the secret).
            # Review routes: generated queue names do not exist (404); a reviewer key may not create queues (403).
            "positive_data_acceptance": {"expected-statuses": ["2xx", "400", "401", "403", "404", "409", "422"]},
            # Validation is per item in a batch: a batch with one invalid item is still a 202 that lists it under
            # `rejected`. Negative cases still run, for no-5xx and for conformance.
            "negative_data_rejection": {"enabled": False},
        },
    }
)
schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=config)


def _recent(item: Any) -> None:
    if isinstance(item, dict) and isinstance(item.get("given_at"), str):
        item["given_at"] = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()


@schema.hook
def map_body(context: schemathesis.HookContext, body: Any) -> Any:
    """Bring ``given_at`` into the accepted window, so the 202 path is exercised too (Hypothesis draws from all
    of history, which would almost always be the window's 422)."""
    _recent(body)
    if isinstance(body, dict) and isinstance(body.get("items"), list):
        for item in body["items"][::2]:
            _recent(item)
    return body


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_openapi_document(case: Any) -> None:
    response = case.call_and_validate(headers=HEADERS)
    if case.path == "/v1/feedback/batch" and response.status_code == 202:
        body = response.json()
        indexes = sorted([a["index"] for a in body["accepted"]] + [r["index"] for r in body["rejected"]])
        assert indexes == list(range(len(case.body["items"])))
