"""The OpenAI-compatible adapter passes the backend contract against a served OpenAI-compatible upstream."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from llmops_inference.adapters.openai_upstream import OpenAIUpstream
from llmops_inference.routing_table import Target, Upstream
from llmops_kit.infra.ports import free_port

from tests.fixtures.gateway import ServerThread
from tests.integration.inference.upstream_stub import create_stub
from tests.unit.inference.backend_contract import BackendContract

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def stub_url() -> Iterator[str]:
    with ServerThread(create_stub("contract")) as server:
        yield server.url


class TestOpenAIUpstream(BackendContract):
    @pytest.fixture
    async def backend(self, stub_url: str) -> AsyncIterator[OpenAIUpstream]:
        upstream = OpenAIUpstream(Upstream(name="stub", base_url=f"{stub_url}/v1", health_path="/v1/models"))
        await upstream.start()
        yield upstream
        await upstream.stop()

    @pytest.fixture
    async def down(self) -> AsyncIterator[OpenAIUpstream]:
        nobody = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
        upstream = OpenAIUpstream(Upstream(name="down", base_url=nobody, health_path="/v1/models"))
        await upstream.start()
        yield upstream
        await upstream.stop()

    @pytest.fixture
    def generation_target(self) -> Target:
        return Target(backend="openai", upstream="stub", model="stub-model", timeout_s=10)

    @pytest.fixture
    def embedding_target(self) -> Target:
        return Target(backend="openai", upstream="stub", model="stub-embedder", timeout_s=10)

    @pytest.fixture
    def down_target(self) -> Target:
        return Target(backend="openai", upstream="down", model="m", timeout_s=5)
