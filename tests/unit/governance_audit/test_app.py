"""The governance-audit app on the kit's fakes: probes and readiness."""

from __future__ import annotations

import httpx
from llmops_governance_audit.bootstrap import GovernanceAuditPorts, create_app
from llmops_kit.kafka.publisher import InMemoryPublisher


async def _down() -> bool:
    return False


async def test_probes_answer_and_readiness_follows_the_publisher() -> None:
    app = create_app(ports=GovernanceAuditPorts(InMemoryPublisher(), None, ready=_down))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://governance") as client,
    ):
        assert (await client.get("/healthz")).json() == {"status": "ok"}
        ready = await client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json() == {"ready": False}
