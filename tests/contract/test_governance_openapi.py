"""Schemathesis against the governance-audit service's own OpenAPI document: generated requests (valid and
invalid) never cause a 5xx, and every answer conforms to what the document declares.

The app runs in process with the kit's in-memory publisher, an admin key and a key state that has been read
(no broker); one bootstrap key of the tenant gives reads, rotations and revocations something to find, and a
policy store that has been read takes the policies API's writes; a warehouse that holds no erasure yet answers
the erasure reads (404).
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import schemathesis
from hypothesis import HealthCheck, settings
from llmops_governance_audit.bootstrap import GovernanceAuditPorts, create_app
from llmops_governance_audit.config import GovernanceAuditSettings
from llmops_governance_audit.policies.registry import PolicyStore
from llmops_kit.auth import ApiKeyRecord, ApiKeyStore, generate_key, hash_key
from llmops_kit.kafka.publisher import InMemoryPublisher
from llmops_kit.keystate import KeyStateView
from llmops_kit.platform_client import PlatformClient, WarehouseReader

KEY = "llmops_contract_test_governance_admin_key_0"
HEADERS = {"Authorization": f"Bearer {KEY}"}
TENANT = "contract"
MAX_EXAMPLES = 40

_keys = ApiKeyStore(
    [
        ApiKeyRecord(id="contract", tenant_id=TENANT, role="admin", sha256=hash_key(KEY)),
        ApiKeyRecord(id="bot", tenant_id=TENANT, role="developer", sha256=hash_key(generate_key())),
    ]
)
_view = KeyStateView(_keys)
_view.mark_caught_up()
_policies = PolicyStore()
_policies.mark_caught_up()


async def _tombstone(topic: str, key: bytes) -> None:
    return None


def _no_history(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"items": [], "next_cursor": None})


_warehouse = WarehouseReader(
    PlatformClient("warehouse", "http://warehouse", "svc-key", transport=httpx.MockTransport(_no_history))
)
asyncio.run(_warehouse.start())  # opens an httpx client over the mock transport: no connection is made
_ports = GovernanceAuditPorts(
    InMemoryPublisher(), _keys, key_state=_view, policies=_policies, tombstone=_tombstone, warehouse=_warehouse
)
app = create_app(GovernanceAuditSettings(), ports=_ports)

config = schemathesis.Config.from_dict(
    {
        "headers": HEADERS,
        "generation": {"max-examples": MAX_EXAMPLES},
        "checks": {
            # Schema-valid requests can name a key that does not exist (404), rotate one already rotated or
            # revoked (409), or ask for a lifetime or grace period over the configured maximum (422); a schema-valid
            # policy can name a policy that does not exist (404), or be one too many for the tenant (409).
            "positive_data_acceptance": {"expected-statuses": ["2xx", "404", "409", "422"]},
        },
    }
)
schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=config)


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_openapi_document(case: Any) -> None:
    case.call_and_validate(headers=HEADERS)
