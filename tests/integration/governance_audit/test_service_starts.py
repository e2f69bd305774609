"""The governance-audit service's production wiring on the session's real broker: it starts, creates its
topics, reports ready with a key (the details name its checks), and stops cleanly."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import yaml
from llmops_governance_audit.bootstrap import create_app
from llmops_governance_audit.config import GovernanceAuditSettings
from llmops_kit.auth import hash_key

from tests.integration.warehouse.test_warehouse_consumer import wait_until

pytestmark = pytest.mark.integration

ADMIN_KEY = "llmops_governance_it_admin_key_0000000000"


async def test_the_service_starts_on_a_real_broker_and_gets_ready(kafka_bootstrap: str, tmp_path: Path) -> None:
    keys_file = tmp_path / "keys.yaml"
    entry = {"id": "it-admin", "tenant_id": "it-governance", "role": "admin", "sha256": hash_key(ADMIN_KEY)}
    keys_file.write_text(yaml.safe_dump({"keys": [entry]}))
    app = create_app(GovernanceAuditSettings(kafka_bootstrap_servers=kafka_bootstrap, api_keys_file=keys_file))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://governance") as client,
    ):
        headers = {"Authorization": f"Bearer {ADMIN_KEY}"}

        async def ready() -> bool:
            return (await client.get("/readyz", headers=headers)).status_code == 200

        await wait_until(ready, "the governance-audit service to be ready")
        body = (await client.get("/readyz", headers=headers)).json()
    assert body["checks"]["kafka"] is True
