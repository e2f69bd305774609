"""The governance-audit app on the kit's fakes: an in-memory publisher, a key store of two tenants that audits
its refusals, and a key-state view marked caught up (as the materialiser would once it has read the topic)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from llmops_governance_audit.bootstrap import GovernanceAuditPorts, create_app
from llmops_governance_audit.config import GovernanceAuditSettings
from llmops_kit.access_audit import DenialAudit
from llmops_kit.audit import AuditTrail
from llmops_kit.auth import ApiKeyRecord, ApiKeyStore, hash_key
from llmops_kit.kafka.publisher import InMemoryPublisher
from llmops_kit.keystate import KeyStateView

KEYS = {
    "acme-admin": ("llmops_acme_admin_key_000000000000000000", "acme", "admin"),
    "acme-dev": ("llmops_acme_developer_key_00000000000000", "acme", "developer"),
    "beta-admin": ("llmops_beta_admin_key_000000000000000000", "beta", "admin"),
}


def auth(name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {KEYS[name][0]}"}


@dataclass
class Service:
    client: httpx.AsyncClient
    publisher: InMemoryPublisher
    store: ApiKeyStore
    view: KeyStateView
    audit: DenialAudit


@pytest.fixture
async def service() -> AsyncIterator[Service]:
    publisher = InMemoryPublisher()
    audit = DenialAudit(AuditTrail(publisher, source="/services/governance-audit"))
    records = [ApiKeyRecord(id=n, tenant_id=t, role=r, sha256=hash_key(k)) for n, (k, t, r) in KEYS.items()]  # type: ignore[arg-type]
    store = ApiKeyStore(records, denials=audit)
    view = KeyStateView(store)
    view.mark_caught_up()
    settings = GovernanceAuditSettings(rotation_grace_s=60)
    app = create_app(settings, ports=GovernanceAuditPorts(publisher, store, key_state=view))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://governance") as client:
        yield Service(client, publisher, store, view, audit)
