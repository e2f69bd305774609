"""Schemathesis against the evaluation service's own OpenAPI document: generated requests (valid and invalid)
never cause a 5xx, and every answer conforms to what the document declares.

The app runs in process with the kit's in-memory publisher and an admin key, through ``EvaluationPorts``:
no broker. The store starts with one evaluator so reads and deletes have something to find; verdicts read a
fake warehouse query API holding one small experiment, and verdict policies start loaded and empty; for
datasets and runs the warehouse and the gateway answer empty pages.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import httpx
import schemathesis
from hypothesis import HealthCheck, settings
from llmops_evaluation.abtest.history import WarehouseHistory
from llmops_evaluation.abtest.policies import PolicyStore
from llmops_evaluation.bootstrap import EvaluationPorts, create_app
from llmops_evaluation.config import EvaluationSettings
from llmops_evaluation.evaluators import build_evaluator
from llmops_evaluation.runs.stores import DatasetStore, RunStore
from llmops_evaluation.store import EvaluatorStore
from llmops_kit.auth import ApiKeyRecord, ApiKeyStore, hash_key
from llmops_kit.kafka.publisher import InMemoryPublisher
from llmops_kit.platform_client import GatewayClient, PlatformClient, WarehouseReader
from llmops_schemas.v1 import EvaluatorConfigured

from tests.unit.evaluation.fake_warehouse import FakeWarehouse, started_reader
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


def _history() -> WarehouseHistory:
    warehouse = FakeWarehouse()
    warehouse.experiment(TENANT, "exp")
    for i in range(20):
        warehouse.call(TENANT, f"c{i}", "ab"[i % 2], i)
    reader = asyncio.run(started_reader(warehouse.transport()))
    return WarehouseHistory(reader, gateway_source="/services/inference", max_calls=1000, max_events=1000)


def _policies() -> PolicyStore:
    store = PolicyStore()
    store.mark_caught_up()
    return store


@schemathesis.serializer("application/x-ndjson")
def _jsonl(ctx: Any, value: Any) -> bytes:
    """Dataset uploads are JSONL text: generated strings go as they are (most are broken lines: a 422)."""
    return str(value).encode("utf-8", "surrogatepass")


def _no_history(request: httpx.Request) -> httpx.Response:
    """The warehouse and the gateway as runs see them: no stored call, no score, no answer."""
    return httpx.Response(200, json={"items": [], "next_cursor": None})


_keys = ApiKeyStore([ApiKeyRecord(id="contract", tenant_id=TENANT, role="admin", sha256=hash_key(KEY))])
_datasets, _runs = DatasetStore(), RunStore()
_datasets.mark_caught_up()
_runs.mark_caught_up()
_platform = PlatformClient("platform", "http://platform", "service-key", transport=httpx.MockTransport(_no_history))
asyncio.run(_platform.start())
_publisher = InMemoryPublisher()
_replays, _replay_store = manager_of(ListSources([]), _publisher, tenant=TENANT, max_per_tenant=1000)
_replay_store.mark_caught_up()
ports = EvaluationPorts(
    _publisher, _keys, _store(), history=_history(), policies=_policies(), datasets=_datasets, runs=_runs,
    gateway=GatewayClient(_platform), warehouse=WarehouseReader(_platform), replays=_replays,
)  # fmt: skip
app = create_app(EvaluationSettings(), ports=ports)

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
