"""Fakes of replays for the unit and contract tests: a list of calls as the source, and a manager over it."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

from llmops_evaluation.evaluators import build_evaluator
from llmops_evaluation.handlers import ScoringRules
from llmops_evaluation.replay.manager import ReplayLimits, ReplayManager
from llmops_evaluation.replay.sources import Batch
from llmops_evaluation.replay.spec import RangeSpec
from llmops_evaluation.replay.store import ReplayStore
from llmops_evaluation.store import EvaluatorStore
from llmops_schemas.envelope import CloudEvent
from llmops_schemas.v1 import PartitionOffsets, ReplayCheckpointed
from llmops_schemas.v2 import CallRecorded

from tests.unit.evaluation.calls import configured

__all__ = ["ListSources", "manager_of"]


class ListSources:
    """A source factory over the calls of a list, ``batch_size`` at a time; the cursor is the index reached.

    Set ``gate`` to hold every reader before its next batch (a replay that stays running)."""

    def __init__(self, items: list[CloudEvent[CallRecorded]]) -> None:
        self.items = items
        self.opened: list[ReplayCheckpointed] = []
        self.gate: asyncio.Event | None = None

    def open(self, tenant: str, state: ReplayCheckpointed) -> Any:
        self.opened.append(state)
        return _ListSource(self, int(state.cursor or 0), state.batch_size)

    async def prepare(self, source: str, ranges: list[RangeSpec]) -> list[PartitionOffsets]:
        return [PartitionOffsets(partition=r.partition, start=r.start, end=max(r.start, r.end or 100)) for r in ranges]


@dataclasses.dataclass
class _ListSource:
    owner: ListSources
    at: int
    size: int

    async def next_batch(self) -> Batch | None:
        if self.owner.gate is not None:
            await self.owner.gate.wait()
        if self.at >= len(self.owner.items):
            return None
        chunk = self.owner.items[self.at : self.at + self.size]
        self.at += len(chunk)
        return Batch(calls=chunk, read=len(chunk), cursor=str(self.at))

    async def close(self) -> None:
        return None


def manager_of(
    sources: ListSources, publisher: Any, store: ReplayStore | None = None, *, tenant: str = "acme", **limits: Any
) -> tuple[ReplayManager, ReplayStore]:
    """A manager over ``sources``; the tenant has one evaluator configured, ``answer-length``."""
    store = store or ReplayStore()
    evaluators = EvaluatorStore()
    evaluators.put(tenant, build_evaluator(configured("answer-length", "length", {"max_chars": 10})))
    evaluators.mark_caught_up()
    manager = ReplayManager(store, evaluators, publisher, sources, ScoringRules(), ReplayLimits(**limits))
    return manager, store
