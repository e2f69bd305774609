"""The periodic part: metric rules and objectives, read from the warehouse every ``evaluate_interval_s``, and
the resolution of cost anomalies whose last spike is ``window_s`` old.

Each pass reads, per tenant, the warehouse's metrics of every metric rule's window (grouped as the rule groups)
and every objective's windows, turns them into observations and hands them to the engine, which publishes only
the changes. A metric rule's open alert for a group that has no calls any more resolves. The warehouse failing
skips the pass (logged and counted); the next pass retries. Applications' calls only (``origin=application``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from llmops_kit.tasks import cancel_and_wait
from llmops_schemas.v1 import ObjectiveConfigured
from llmops_schemas.v2 import AlertRuleConfigured

from llmops_alerting.engine import Engine, Observation
from llmops_alerting.objectives import Counts, burn_observations, evaluate_objective
from llmops_alerting.ports import MetricsReader
from llmops_alerting.rules import row_observation, spike_resolutions
from llmops_alerting.sli import EventCounts
from llmops_alerting.state import ConfigStore

__all__ = ["MAX_BUCKETS", "Poller", "WarehouseCounts"]

log = logging.getLogger(__name__)
MAX_BUCKETS = 2000
CALL_SLIS = ("error_rate", "latency")
"""The SLIs read from the warehouse's call metrics; the others from stored events (:mod:`llmops_alerting.sli`)."""
QUANTILES = ((0.99, "latency_p99_ms"), (0.95, "latency_p95_ms"), (0.0, "latency_p50_ms"))


class WarehouseCounts:
    """Good and total events of an objective over a window, from the warehouse's call metrics.

    ``error_rate``: calls and errors (exact). ``latency``: time slices (the SRE workbook's "good minutes"): a
    bucket is good when its latency quantile nearest the target (p99, p95 or p50) is within the threshold; the
    buckets are a minute, or wider so that one read stays within the warehouse's 2,000 buckets.
    """

    def __init__(self, reader: MetricsReader, tenant: str) -> None:
        self._reader = reader
        self._tenant = tenant

    async def __call__(self, objective: ObjectiveConfigured, start: datetime, end: datetime) -> Counts:
        scope = {"app": objective.app, "model": objective.model, "origin": "application"}
        if objective.sli == "error_rate":
            rows = await self._reader.metrics_summary(self._tenant, start=start, end=end, **scope)
            calls = sum(int(r.get("calls") or 0) for r in rows)
            return Counts(good=calls - sum(int(r.get("errors") or 0) for r in rows), total=calls)
        step = max(60, -(-int((end - start).total_seconds()) // MAX_BUCKETS // 60) * 60)
        rows = await self._reader.metrics_timeseries(self._tenant, start=start, end=end, step_seconds=step, **scope)
        column = next(name for level, name in QUANTILES if objective.target >= level)
        busy = [r for r in rows if int(r.get("calls") or 0) > 0]
        good = sum(1 for r in busy if float(r.get(column) or 0.0) <= (objective.threshold or 0.0))
        return Counts(good=good, total=len(busy))


class Poller:
    """Runs metric rules and objectives on a schedule; a lifespan component."""

    def __init__(
        self,
        engine: Engine,
        config: ConfigStore,
        reader: MetricsReader | None,
        *,
        interval_s: float,
        clock: Callable[[], datetime],
        max_events: int = 50_000,
        feedback_lookback: timedelta = timedelta(days=1),
    ) -> None:
        self._engine = engine
        self._config = config
        self._reader = reader
        self._interval_s = interval_s
        self._clock = clock
        self._max_events = max_events
        self._feedback_lookback = feedback_lookback
        self._task: asyncio.Task[None] | None = None
        self.statuses: dict[tuple[str, str], Any] = {}
        """The last status of every objective (what ``GET /v1/objectives`` shows)."""

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="alerting-poller")

    async def stop(self) -> None:
        await cancel_and_wait([self._task])

    async def _run(self) -> None:
        while True:
            if self._config.caught_up:
                try:
                    await self.run_once()
                except Exception as exc:  # the warehouse down must not stop the loop; the next pass retries
                    log.warning("an evaluation pass failed: %s", type(exc).__name__)
            await asyncio.sleep(self._interval_s)

    async def run_once(self) -> list[Observation]:
        """One pass over every tenant's rules and objectives; returns the observations made. Without the
        warehouse only cost anomalies are resolved (metric rules and objectives need its reads)."""
        now = self._clock()
        observations: list[Observation] = []
        for tenant in self._config.tenants():
            for rule in self._config.rules(tenant):
                if rule.kind == "metric" and self._reader is not None:
                    observations += await self._rule(tenant, rule, now)
                elif rule.kind == "cost_anomaly":
                    open_alerts = self._engine.book.open(tenant)
                    observations += spike_resolutions(tenant, rule, open_alerts, self._engine.spikes, now)
            if self._reader is not None:
                observations += await self._objectives(tenant, self._reader, now)
        await self._engine.observe(observations)
        return observations

    async def _objectives(self, tenant: str, reader: MetricsReader, now: datetime) -> list[Observation]:
        calls = WarehouseCounts(reader, tenant)
        events = EventCounts(reader, tenant, max_events=self._max_events, feedback_lookback=self._feedback_lookback)
        observations: list[Observation] = []
        for objective in self._config.of(tenant, "objective").values():
            counts = calls if objective.sli in CALL_SLIS else events
            status = await evaluate_objective(objective, now, counts)
            self.statuses[(tenant, objective.objective_id)] = status
            observations += burn_observations(tenant, objective, status, now)
        return observations

    async def _rule(self, tenant: str, rule: AlertRuleConfigured, now: datetime) -> list[Observation]:
        assert self._reader is not None
        group = next((g for g in ("app", "model") if g in rule.group_by), "none")
        start = now - timedelta(seconds=rule.window_s)
        rows = await self._reader.metrics_summary(
            tenant, start=start, end=now, group_by=group, app=rule.app, model=rule.model, origin="application"
        )
        found = []
        for row in rows:
            labels = {k: v for k, v in (("app", rule.app), ("model", rule.model)) if v}
            if group != "none" and row.get("group"):
                labels[group] = str(row["group"])
            found.append(row_observation(tenant, rule, labels, row, now))
        seen = {o.alert_id for o in found}
        for alert in self._engine.book.open(tenant):
            if alert.rule_id == rule.rule_id and alert.alert_id not in seen:
                found.append(row_observation(tenant, rule, dict(alert.labels), {"calls": 0}, now))
        return found
