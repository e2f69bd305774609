"""Schemathesis against the warehouse's own OpenAPI document: generated requests (valid and invalid) never
cause a 5xx, and every answer conforms to what the document declares (status codes, content types,
response schemas).

The app runs in process on the in-memory store (seeded with calls of the key's tenant, recent ones so the
default last-hour windows find them) with a real API key, through ``WarehousePorts``: no broker, no
ClickHouse. Examples are kept modest so the module runs well under a minute.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import schemathesis
from hypothesis import HealthCheck, settings
from llmops_kit.auth import ApiKeyRecord, ApiKeyStore, hash_key
from llmops_warehouse.adapters.memory_store import InMemoryEventStore
from llmops_warehouse.bootstrap import WarehousePorts
from llmops_warehouse.config import WarehouseSettings
from llmops_warehouse.entrypoints.http import create_app

from tests.unit.warehouse.call_store_contract import make_event, score_event

KEY = "llmops_contract_test_reader_key_0000000000"
HEADERS = {"Authorization": f"Bearer {KEY}"}
TENANT = "contract"
MAX_EXAMPLES = 40


def _seeded_store() -> InMemoryEventStore:
    store = InMemoryEventStore()
    now = datetime.now(UTC)
    store.insert_calls(
        [
            make_event(
                TENANT,
                call_id=f"call-{i}",
                started_at=now - timedelta(minutes=3 * i),
                app=("chat", "search")[i % 2],
                model=("gpt-4o", "claude-3")[i % 3 == 0],
                status="error" if i % 4 == 0 else "ok",
                usage=None if i % 5 == 0 else (10 + i, 5),
                user_id=f"user-{i % 3}",
            )
            for i in range(40)
        ]
    )
    store.insert_calls([make_event("someone-else", call_id="call-1", started_at=now)])
    store.insert_events([score_event(TENANT, at=now - timedelta(minutes=i), call_id=f"call-{i}") for i in range(5)])
    return store


_keys = ApiKeyStore([ApiKeyRecord(id="contract", tenant_id=TENANT, role="reader", sha256=hash_key(KEY))])
app = create_app(WarehouseSettings(api_keys_file=None), ports=WarehousePorts(store=_seeded_store(), api_keys=_keys))

config = schemathesis.Config.from_dict(
    {
        "headers": HEADERS,
        "generation": {"max-examples": MAX_EXAMPLES},
        "checks": {
            # Schema-valid parameters can still be refused by rules JSON Schema cannot express: `end` after
            # `start`, at most 2,000 buckets, times ClickHouse can store (422); a cursor this API did not
            # issue (400); a call id or an event type that is not stored (404); an X-LLMOps-Tenant header naming
            # another tenant than the key's (403). All are documented answers.
            "positive_data_acceptance": {"expected-statuses": ["2xx", "400", "403", "404", "422"]},
        },
    }
)
schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=config)


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_openapi_document(case: Any) -> None:
    response = case.call_and_validate(headers=HEADERS)
    if case.path.startswith("/v1/") and response.status_code == 200:
        body = response.json()
        rows = body.get("items", [body])
        # Only the key's tenant, whatever was asked.
        assert all(row.get("tenant_id", TENANT) == TENANT for row in rows)
