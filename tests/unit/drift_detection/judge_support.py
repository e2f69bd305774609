"""Judge-drift tests' harness: the scheduler over the fake evaluation service, an in-memory publisher, a clock
that only moves when the scheduler sleeps (so a day of checks, or a run's whole wait, takes no time)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from llmops_drift_detection.judges import JudgeScheduler, JudgeSettings, MonitorRegistry, MonitorSpec, MonitorStore
from llmops_kit.audit import Actor
from llmops_kit.kafka.publisher import InMemoryPublisher
from llmops_kit.platform_client import EvaluationClient, PlatformClient
from llmops_schemas.v1 import JudgeMonitorConfigured
from llmops_schemas.v2 import DriftReported

from tests.fixtures.clocks import ManualWallClock
from tests.unit.kit.fake_evaluation import FakeEvaluation

TENANT = "acme"
ITEMS = [f"anchor-{n:02d}" for n in range(12)]
JUDGE = {"name": "helpfulness", "kind": "llm_judge",
         "params": {"model": "judge-small", "prompt": {"name": "rubric", "version": 1}}}  # fmt: skip


class Clock(ManualWallClock):
    """Wall time that moves only when told, or when the scheduler sleeps."""

    def __init__(self) -> None:
        super().__init__(datetime(2026, 3, 14, 9, 0, tzinfo=UTC))

    async def sleep(self, seconds: float) -> None:
        self.advance(seconds)
        await asyncio.sleep(0)  # a check under way lets the others (and a test) run, as a real sleep does


def spec(**changes: Any) -> MonitorSpec:
    body = {"app": "support-bot", "dataset": "anchors", "dataset_version": 1, "variant": {"model": "support-echo"},
            "judge": JUDGE, "interval_s": 3600, "min_items": 10, "min_shift": 0.25, **changes}  # fmt: skip
    return MonitorSpec.model_validate(body)


class Harness:
    def __init__(self, **settings: Any) -> None:
        self.clock = Clock()
        self.fake = FakeEvaluation()
        self.fake.seed(TENANT, "anchors", ITEMS)
        self.publisher = InMemoryPublisher()
        self.store = MonitorStore()
        self.store.mark_caught_up()
        self.registry = MonitorRegistry(self.store, self.publisher, source="/services/drift-detection",
                                        max_per_tenant=settings.pop("max_monitors", 3), clock=self.clock)  # fmt: skip
        self.client = EvaluationClient(PlatformClient("evaluation", "http://evaluation", "svc-key", attempts=1,
                                                      transport=self.fake.transport()))  # fmt: skip
        self.settings = JudgeSettings(**{"run_timeout_s": 600, "poll_s": 5, **settings})
        self.scheduler = JudgeScheduler(self.registry, self.client, self.publisher, self.settings,
                                        source="/services/drift-detection", clock=self.clock,
                                        sleep=self.clock.sleep)  # fmt: skip

    async def monitor(self, monitor_id: str = "support-judge", **changes: Any) -> JudgeMonitorConfigured:
        monitor, _ = await self.registry.put(TENANT, monitor_id, spec(**changes), Actor(key_id="admin-key"))
        return monitor

    async def tick(self) -> list[DriftReported]:
        """One tick and the reports of the checks it started."""
        return [await task for task in self.scheduler.tick()]

    def reports(self) -> list[DriftReported]:
        return list(self.publisher.of(DriftReported))

    def monitor_state(self, monitor_id: str = "support-judge") -> JudgeMonitorConfigured:
        found = self.store.get(TENANT, monitor_id)
        assert found is not None
        return found
