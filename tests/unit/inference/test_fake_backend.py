"""The gateway's scriptable fake backend passes the same contract as the OpenAI and Triton adapters."""

from __future__ import annotations

import pytest
from llmops_inference.adapters.memory import FakeBackend
from llmops_inference.domain import UpstreamError
from llmops_inference.routing_table import Target

from tests.unit.inference.backend_contract import BackendContract


class TestFakeBackend(BackendContract):
    @pytest.fixture
    def backend(self) -> FakeBackend:
        return FakeBackend()

    @pytest.fixture
    def down(self) -> FakeBackend:
        return FakeBackend(healthy=False, failures=[UpstreamError("connect", "unreachable") for _ in range(3)])

    @pytest.fixture
    def generation_target(self) -> Target:
        return Target(backend="openai", upstream="fake", model="m")

    @pytest.fixture
    def embedding_target(self) -> Target:
        return Target(backend="openai", upstream="fake", model="e")

    @pytest.fixture
    def down_target(self) -> Target:
        return Target(backend="openai", upstream="fake", model="m")
