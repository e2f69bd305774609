"""The gateway's Triton adapter passes the backend contract against the real model server (PyTriton)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from llmops_inference.adapters.triton import TritonBackend
from llmops_inference.routing_table import Target, Upstream
from llmops_kit.infra.ports import free_port

from tests.integration.model_server.conftest import ModelServer
from tests.unit.inference.backend_contract import BackendContract

pytestmark = pytest.mark.integration


class TestTritonBackend(BackendContract):
    @pytest.fixture
    async def backend(self, model_server: ModelServer) -> AsyncIterator[TritonBackend]:
        triton = TritonBackend(Upstream(name="triton", base_url=f"grpc://{model_server.grpc}"))
        await triton.start()
        yield triton
        await triton.stop()

    @pytest.fixture
    async def down(self) -> AsyncIterator[TritonBackend]:
        triton = TritonBackend(Upstream(name="down", base_url=f"grpc://127.0.0.1:{free_port()}"))
        await triton.start()
        yield triton
        await triton.stop()

    @pytest.fixture
    def generation_target(self) -> Target:
        return Target(backend="triton", upstream="triton", model="llm", timeout_s=60)

    @pytest.fixture
    def embedding_target(self) -> Target:
        return Target(backend="triton", upstream="triton", model="embedder", timeout_s=60)

    @pytest.fixture
    def down_target(self) -> Target:
        return Target(backend="triton", upstream="down", model="llm", timeout_s=5)
