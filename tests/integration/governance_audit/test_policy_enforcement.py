"""Policies on the real broker: a blocked-terms policy written through the governance service makes the gateway (its
own process wiring) refuse a prompt that contains a term within 5 seconds, with 403 ``policy_violation``; the
refusal is on llmops.audit.records without the prompt's text; deleting the policy lets the prompt through again."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from llmops_governance_audit.bootstrap import create_app as governance_app
from llmops_governance_audit.config import GovernanceAuditSettings
from llmops_inference.bootstrap import create_app as gateway_app
from llmops_inference.config import InferenceSettings
from llmops_kit.auth import generate_key, hash_key

from tests.fixtures.gateway import ServerThread
from tests.integration.governance_audit.test_key_propagation import (
    _audit_entries,
    bearer,
    ready,
    serve,
    within,
)
from tests.integration.inference.upstream_stub import create_stub
from tests.integration.warehouse.test_warehouse_consumer import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

TERM = "Project Falcon"
POLICY = {"name": "no code names", "settings": {"kind": "blocked_terms", "app": "support-bot", "terms": [TERM]}}


@pytest.fixture
def tenant() -> str:
    return f"policy-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def admin_key() -> str:
    return generate_key()


@pytest.fixture
def stub_url() -> Iterator[str]:
    with ServerThread(create_stub("stub")) as stub:
        yield stub.url


def _files(folder: Path, tenant: str, admin_key: str, stub_url: str) -> tuple[Path, Path]:
    keys, routes = folder / "keys.yaml", folder / "routes.yaml"
    entry = {"id": f"{tenant}-admin", "tenant_id": tenant, "role": "admin", "sha256": hash_key(admin_key)}
    keys.write_text(yaml.safe_dump({"keys": [entry]}))
    routes.write_text(yaml.safe_dump({
        "upstreams": [{"name": "stub", "base_url": f"{stub_url}/v1"}],
        "models": {"model-a": [{"backend": "openai", "upstream": "stub", "model": "up-a", "timeout_s": 5}]},
    }))  # fmt: skip
    return keys, routes


async def test_a_policy_written_through_governance_is_enforced_by_the_gateway_and_audited(
    kafka_bootstrap: str, tmp_path: Path, tenant: str, admin_key: str, stub_url: str
) -> None:
    keys, routes = _files(tmp_path, tenant, admin_key, stub_url)
    governance = governance_app(GovernanceAuditSettings(kafka_bootstrap_servers=kafka_bootstrap, api_keys_file=keys))
    gateway = gateway_app(InferenceSettings(kafka_bootstrap_servers=kafka_bootstrap, api_keys_file=keys,
                                            routes_file=routes, spool_dir=tmp_path / "spool"))  # fmt: skip
    headers = {**bearer(admin_key), "X-LLMOps-App": "support-bot"}

    async def status(content: str) -> int:
        body = {"model": "model-a", "messages": [{"role": "user", "content": content}]}
        return (await calls.post("/v1/chat/completions", json=body, headers=headers)).status_code

    async with serve(governance, "governance") as policies, serve(gateway, "gateway") as calls:
        await ready(policies, admin_key)

        async def loaded() -> bool:
            details = (await calls.get("/readyz", headers=bearer(admin_key))).json()
            return bool(details["checks"].get("policies"))

        await wait_until(loaded, "the gateway to read llmops.policies")
        assert await status(f"When does {TERM} ship?") == 200
        put = await policies.put("/v1/policies/support-terms", json=POLICY, headers=bearer(admin_key))
        assert put.status_code == 201, put.text

        async def refused() -> bool:
            return await status(f"When does {TERM.upper()} ship?") == 403

        await within(refused, "the gateway to refuse a blocked term")
        body = {"model": "model-a", "messages": [{"role": "user", "content": f"and {TERM}?"}]}
        answer = await calls.post("/v1/chat/completions", json=body, headers=headers)
        assert answer.json()["error"]["code"] == "policy_violation"
        assert "'support-terms'" in answer.json()["error"]["message"] and "falcon" not in answer.text.lower()
        assert await status("When does the next release ship?") == 200

        entries = await _audit_entries(kafka_bootstrap, tenant, want=3)
        assert [(e.action, e.outcome, e.resource.id) for e in entries] == [
            ("policy.create", "success", "support-terms"),
            ("policy.enforce", "denied", "support-terms"),
            ("policy.enforce", "denied", "support-terms"),
        ]
        assert "falcon" not in repr(entries).lower()

        deleted = await policies.delete("/v1/policies/support-terms", headers=bearer(admin_key))
        assert deleted.status_code == 200, deleted.text

        async def allowed() -> bool:
            return await status(f"When does {TERM} ship?") == 200

        await within(allowed, "the gateway to forget the deleted policy")
