"""Schemathesis against the evaluation service's own OpenAPI document: generated requests (valid and invalid)
never cause a 5xx, and every answer conforms to what the document declares.

The app runs in process with the kit's in-memory publisher and an admin key, through ``EvaluationPorts``:
no broker. The store starts with one evaluator so reads and deletes have something to find.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import schemathesis
from hypothesis import HealthCheck, settings
from llmops_evaluation.bootstrap import EvaluationPorts, create_app
from llmops_evaluation.config import EvaluationSettings
from llmops_evaluation.evaluators import build_evaluator
from llmops_evaluation.store import EvaluatorStore
from llmops_kit.auth import ApiKeyRecord, ApiKeyStore, hash_key
from llmops_kit.kafka.publisher import InMemoryPublisher
from llmops_schemas.v1 import EvaluatorConfigured

from tests.unit.evaluation.replays import ListSources, manager_of

KEY = "llmops_contract_test_admin_key_00000000000"
HEADERS = {"Authorization": f"Bearer {KEY}"}
TENANT = "contract"
MAX_EXAMPLES = 40


def _store() -> EvaluatorStore:
    store = EvaluatorStore()
    config = EvaluatorConfigured(
        name="answer-length", kind="length", params={"max_chars": 100}, app="chat", updated_at=datetime.now(UTC)
    )
    store.put(TENANT, build_evaluator(config))
    store.mark_caught_up()
    return store


_keys = ApiKeyStore([ApiKeyRecord(id="contract", tenant_id=TENANT, role="admin", sha256=hash_key(KEY))])
_publisher = InMemoryPublisher()
_replays, _replay_store = manager_of(ListSources([]), _publisher, tenant=TENANT, max_per_tenant=1000)
_replay_store.mark_caught_up()
app = create_app(EvaluationSettings(), ports=EvaluationPorts(_publisher, _keys, _store(), _replays))

config = schemathesis.Config.from_dict(
    {
        "headers": HEADERS,
        "generation": {"max-examples": MAX_EXAMPLES},
        "checks": {
            # Schema-valid bodies can still name an unknown kind or parameters the kind refuses (422), an
            # evaluator that does not exist (404) or an X-LLMOps-Tenant header naming another tenant (403); a
            # replay's id can be taken (409).
            "positive_data_acceptance": {"expected-statuses": ["2xx", "403", "404", "409", "422"]},
        },
    }
)
schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=config)


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_openapi_document(case: Any) -> None:
    case.call_and_validate(headers=HEADERS)
