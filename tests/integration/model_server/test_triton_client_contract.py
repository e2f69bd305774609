"""The real ``tritonclient.grpc.aio`` client against the model server passes the contract the fake passes."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from llmops_kit.infra.ports import free_port
from tritonclient.grpc.aio import InferenceServerClient

from tests.integration.model_server.conftest import ModelServer
from tests.unit.inference.triton_client_contract import TritonClientContract

pytestmark = pytest.mark.integration


class TestTritonGrpcClient(TritonClientContract):
    @pytest.fixture
    async def client(self, model_server: ModelServer) -> AsyncIterator[InferenceServerClient]:
        client = InferenceServerClient(model_server.grpc)
        yield client
        await client.close()

    @pytest.fixture
    async def down(self) -> AsyncIterator[InferenceServerClient]:
        client = InferenceServerClient(f"127.0.0.1:{free_port()}")
        yield client
        await client.close()
