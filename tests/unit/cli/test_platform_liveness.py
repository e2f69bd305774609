"""`llmops up`'s liveness probe against a real service app: stuck with its reason (the service key), or not."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import FastAPI
from llmops_cli.platform import LocalPlatform, PlatformPorts
from llmops_kit.auth import ANY_TENANT, SERVICE_ROLE, ApiKeyRecord, ApiKeyStore, generate_key, hash_key
from llmops_kit.http.app import Runtime, create_service_app
from llmops_kit.infra.process import ManagedProcess

from tests.fixtures.gateway import ServerThread

SERVICE_KEY = generate_key()
REASON = "table recovery has read none of its 7 remaining changelog records for 300 s"


def _service(state: dict[str, str | None]) -> FastAPI:
    async def build_runtime(app: FastAPI) -> Runtime:
        return Runtime(liveness=lambda: state["stuck"])

    app = create_service_app(
        service="drift-detection", title="t", description="d", version="0", build_runtime=build_runtime
    )
    app.state.api_keys = ApiKeyStore(
        [ApiKeyRecord(id="platform", tenant_id=ANY_TENANT, role=SERVICE_ROLE, sha256=hash_key(SERVICE_KEY))]
    )
    return app


@pytest.mark.parametrize("key", [SERVICE_KEY, ""], ids=["service-key", "no-key"])
def test_a_stuck_service_is_told_with_its_reason_when_the_platform_holds_the_key(tmp_path: Path, key: str) -> None:
    state: dict[str, str | None] = {"stuck": REASON}
    with ServerThread(_service(state)) as server:
        platform = LocalPlatform(tmp_path, ports=PlatformPorts(drift_detection=server.port), service_key=key)
        process = ManagedProcess("drift-detection", ["true"], log_path=tmp_path / "drift.log")
        stuck = platform.stuck(process)
        state["stuck"] = None
        alive = platform.stuck(process)

    assert stuck == (REASON if key else "its /healthz answers 503")
    assert alive is None


def test_a_service_that_does_not_answer_is_not_judged_stuck(tmp_path: Path) -> None:
    with ServerThread(_service({"stuck": None})) as server:
        port = server.port
    platform = LocalPlatform(tmp_path, ports=PlatformPorts(drift_detection=port), service_key=SERVICE_KEY)

    assert platform.stuck(ManagedProcess("drift-detection", ["true"], log_path=tmp_path / "drift.log")) is None
