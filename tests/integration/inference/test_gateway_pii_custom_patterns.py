"""A tenant's custom PII pattern, published as a `pii_redaction` record on llmops.policies, redacts the calls the
gateway records for that tenant, in the targets it names, without a restart; another tenant's calls are recorded
as they were (real broker; docs/pii.md)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
from llmops_kit.auth import hash_key
from llmops_schemas.v2 import CallRecorded

from tests.fixtures.gateway import ServerThread, serve_gateway
from tests.fixtures.kafka import run_sync
from tests.fixtures.recorded_calls import recorded_by_id
from tests.integration.inference.upstream_stub import create_stub
from tests.integration.ingest.test_ingest_pii_policies import publish
from tests.unit.pii.test_custom_patterns import settings
from tests.unit.pii.test_policy_records import record

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(180)]

SUFFIX = uuid.uuid4().hex[:8]
TENANTS = {
    f"it-pii-a-{SUFFIX}": "llmops_it_pii_a_" + uuid.uuid4().hex,
    f"it-pii-b-{SUFFIX}": "llmops_it_pii_b_" + uuid.uuid4().hex,
}
EMPLOYEE = "my employee number is EMP-004211"


@pytest.fixture(scope="module")
def gateway(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    keys = "keys:\n" + "".join(
        f"  - {{id: it-{tenant}, tenant_id: {tenant}, role: admin, sha256: {hash_key(key)}}}\n"
        for tenant, key in TENANTS.items()
    )
    with ServerThread(create_stub("stub")) as stub:
        routes = (
            f"upstreams:\n  - {{name: stub, base_url: '{stub.url}/v1'}}\n"
            "models:\n  model-a: [{backend: openai, upstream: stub, model: up, timeout_s: 5}]\n"
        )
        key = next(iter(TENANTS.values()))
        with serve_gateway(
            kafka_bootstrap, tmp_path_factory.mktemp("gateway-pii"), keys=keys, key=key, routes=routes
        ) as url:
            yield url


def recorded(gateway: str, kafka_bootstrap: str, tenant: str) -> CallRecorded:
    """One call of ``tenant`` through the gateway, as the gateway recorded it on llmops.calls.recorded."""
    body = {"model": "model-a", "messages": [{"role": "user", "content": EMPLOYEE}]}
    answer = httpx.post(
        f"{gateway}/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {TENANTS[tenant]}"}
    )
    assert answer.status_code == 200, answer.text
    assert "EMP-004211" in answer.json()["choices"][0]["message"]["content"]  # the client's answer is not changed
    call_id = answer.json()["id"]
    return run_sync(recorded_by_id(kafka_bootstrap, tenant, {call_id}))[call_id]


def test_a_tenants_custom_pattern_redacts_its_recorded_calls_only(gateway: str, kafka_bootstrap: str) -> None:
    acme, other = TENANTS
    policy = settings({"name": "employee_id", "regex": r"EMP-\d{6}"}, targets=["messages"])
    run_sync(publish(kafka_bootstrap, *record(acme, "employee-ids", policy)))
    deadline = time.monotonic() + 30
    while (call := recorded(gateway, kafka_bootstrap, acme)).messages[0].content == EMPLOYEE:
        assert time.monotonic() < deadline, "the tenant's policy record did not take effect in 30 s"
        time.sleep(0.5)  # polling: the record is read in the background
    assert call.messages[0].content == "my employee number is [EMPLOYEE_ID]"
    assert "EMP-004211" in (call.choices[0].output or "")  # the record's targets: messages only
    unaffected = recorded(gateway, kafka_bootstrap, other)
    assert unaffected.messages[0].content == EMPLOYEE
