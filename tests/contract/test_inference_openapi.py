"""Schemathesis against the gateway's own OpenAPI document: generated requests (valid and invalid) never
cause a 5xx, and every answer conforms to what the document declares (status codes, content types,
response schemas).

The app runs in process over fake backends, an in-memory publisher and a temporary spool, with a real API
key: no upstream, no broker. Half of the generated bodies are pointed at a served model so the 200 paths
(and streaming) are exercised, not only 404s.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, settings
from llmops_inference.adapters.memory import FakeBackend
from llmops_inference.bootstrap import InferencePorts, create_app
from llmops_inference.config import InferenceSettings
from llmops_inference.routing_table import RoutingTable
from llmops_kit.kafka.publisher import InMemoryPublisher

from tests.unit.inference.support import KEYS, ROUTES, key_store

KEY = KEYS["writer"][0]
HEADERS = {"Authorization": f"Bearer {KEY}"}
MAX_EXAMPLES = 40

_table = RoutingTable.model_validate(ROUTES)
_ports = InferencePorts(
    api_keys=key_store(),
    table=_table,
    backends={u.name: FakeBackend(name=u.name) for u in _table.upstreams},
    publisher=InMemoryPublisher(),
    spool_dir=Path(tempfile.mkdtemp(prefix="inference-contract-")),
)
app = create_app(InferenceSettings(requests_per_minute=0, tokens_per_minute=0), ports=_ports)

config = schemathesis.Config.from_dict(
    {
        "headers": HEADERS,
        "generation": {"max-examples": MAX_EXAMPLES},
        "checks": {
            # Schema-valid bodies can still be refused by rules JSON Schema does not carry: a model the
            # routes file does not serve (404), no messages and no prompt, or a field this gateway refuses
            # (`tools`) (400), a prompt over the character limit (413). All are documented answers.
            "positive_data_acceptance": {"expected-statuses": ["2xx", "400", "404", "413"]},
        },
    }
)
schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=config)


@schema.hook
def map_body(context: schemathesis.HookContext, body: Any) -> Any:
    """Point every other body at a served model, so the answer paths run too (an empty model stays invalid)."""
    model = body.get("model") if isinstance(body, dict) else None
    if isinstance(model, str) and model and len(model) % 2 == 0:
        body["model"] = "gpt-test"
    return body


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_openapi_document(case: Any) -> None:
    response = case.call_and_validate(headers=HEADERS)
    assert response.status_code < 500, response.text
    if response.status_code >= 400 and case.path == "/v1/messages":  # the Claude front answers Anthropic's shape
        assert set(response.json()) == {"type", "error"} and response.json()["type"] == "error", response.text
    elif response.status_code >= 400 and case.path.startswith("/v1/"):
        assert set(response.json()) == {"error"}


def test_the_answers_of_recorded_calls_document_their_feedback_token_header() -> None:
    paths = app.openapi()["paths"]
    for path in ("/v1/chat/completions", "/v1/completions"):
        headers = paths[path]["post"]["responses"]["200"]["headers"]
        assert headers["X-LLMOps-Feedback-Token"]["schema"] == {"type": "string"}
    assert "headers" not in paths["/v1/embeddings"]["post"]["responses"]["200"]  # embeddings get no token
