"""Fixtures of the prompt-registry unit tests."""

from __future__ import annotations

import pytest
from llmops_inference.prompts.service import PromptRegistry

from tests.unit.inference.prompts.fakes import Clock, FakeSink, prompt_registry


@pytest.fixture
def sink() -> FakeSink:
    return FakeSink()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def registry(sink: FakeSink, clock: Clock) -> PromptRegistry:
    return prompt_registry(sink, clock)
