"""Fixtures of the prompt-registry unit tests."""

from __future__ import annotations

import pytest
from llmops_inference.prompts.service import PromptRegistry
from llmops_kit.kafka.publisher import InMemoryPublisher

from tests.unit.inference.prompts.fakes import Clock, prompt_registry


@pytest.fixture
def sink() -> InMemoryPublisher:
    return InMemoryPublisher()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def registry(sink: InMemoryPublisher, clock: Clock) -> PromptRegistry:
    return prompt_registry(sink, clock)
