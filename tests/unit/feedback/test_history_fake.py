"""The history contract on the in-memory fake the review and export unit tests use."""

from __future__ import annotations

import pytest
from llmops_schemas import CloudEvent
from llmops_schemas.v2 import FeedbackReceived

from tests.unit.feedback.history import InMemoryHistory
from tests.unit.feedback.history_contract import HistoryContract, Seed


class TestInMemoryHistory(HistoryContract):
    @pytest.fixture
    def history(self) -> InMemoryHistory:
        return InMemoryHistory()

    @pytest.fixture
    def seed(self, history: InMemoryHistory) -> Seed:
        async def store(events: list[CloudEvent[FeedbackReceived]]) -> None:
            for event in events:
                data = event.data.model_dump(mode="json", exclude_none=True)
                history.add(event.tenant_id, "feedback", data, event.time, key_id=event.key_id)

        return store
