"""Fixtures of the experiments unit tests."""

from __future__ import annotations

from typing import Any

import pytest
from llmops_inference.experiments.publisher import ExperimentPublisher
from llmops_inference.experiments.service import ExperimentRegistry
from llmops_inference.experiments.store import ExperimentStore
from llmops_inference.prompts.store import PromptStore
from llmops_kit.audit import AuditTrail
from llmops_kit.kafka.publisher import InMemoryPublisher
from llmops_schemas import CloudEvent
from llmops_schemas.v1 import PromptVersionPublished
from llmops_schemas.v1.examples import example_data

from tests.unit.inference.prompts.fakes import TENANT, Clock


@pytest.fixture
def sink() -> InMemoryPublisher:
    return InMemoryPublisher()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def prompts() -> PromptStore:
    """Versions 1 to 3 of ``support-answer``."""
    store = PromptStore()
    for number in (1, 2, 3):
        data: dict[str, Any] = {**example_data(PromptVersionPublished), "version": number, "parent": None}
        store.apply(CloudEvent.wrap(PromptVersionPublished.model_validate(data), source="/t", tenant_id=TENANT))
    store.mark_caught_up()
    return store


@pytest.fixture
def registry(sink: InMemoryPublisher, clock: Clock, prompts: PromptStore) -> ExperimentRegistry:
    store = ExperimentStore()
    store.mark_caught_up()
    return ExperimentRegistry(
        store,
        ExperimentPublisher(AuditTrail(sink, source="/services/inference", clock=clock)),
        prompts=prompts,
        clock=clock,
    )
