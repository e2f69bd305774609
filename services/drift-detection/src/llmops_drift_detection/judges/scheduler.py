"""The judge-drift checks: every due monitor's anchor set re-scored by an offline run, paired with its baseline.

Each tick looks at every monitor this replica owns (:mod:`llmops_drift_detection.judges.owners`: the owner of
the monitor's partition of ``llmops.drift.judges``, so with several replicas each monitor is checked by one); one
that is due and has no check under way gets one (bounded across tenants by ``max_concurrent_checks``): start a
run of the evaluation service over the pinned dataset version with the monitor's variant and its judge alone,
wait for it (at most ``run_timeout_s``, read every ``poll_s``), read both runs' per-item scores from the
evaluation service's comparison, and publish the paired check as a drift report. A monitor's first completed run
becomes its baseline (published on the monitor, so a restart keeps it).

The schedule is published on the monitor too (``next_check_at``, ``run_in_flight``: once the run is started, and
when the check ends), so a restarted replica or a new owner takes it up where it was: a monitor is due at its
time, not at once, and a run in flight is waited for (at once) rather than started again (docs/adr/0058).

Nothing here raises out of a check: the evaluation service down, a run refused, failed or too slow, a baseline
gone, each gives a report with no verdict and the reason, and the next tick tries again. A run that outlived its
wait stays the monitor's run in flight: the next check waits for it instead of starting another. ``clock`` and
``sleep`` are injectable, so tests run a day of checks without waiting.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from llmops_kit.kafka.publisher import EventPublisher
from llmops_kit.logging import log_unexpected
from llmops_kit.platform_client import EvaluationClient, PlatformCallError
from llmops_kit.tasks import cancel_and_wait
from llmops_schemas import CloudEvent
from llmops_schemas.v1 import JudgeMonitorConfigured
from llmops_schemas.v2 import DriftReported
from prometheus_client import Counter

from llmops_drift_detection.judges.compare import check_pairs, pairs_of
from llmops_drift_detection.judges.monitors import MonitorRegistry, same_config
from llmops_drift_detection.judges.owners import MonitorOwners
from llmops_drift_detection.judges.report import judge_report
from llmops_drift_detection.judges.settings import JudgeSettings

__all__ = ["CHECKS", "JudgeScheduler"]

log = logging.getLogger(__name__)
CHECKS = Counter("llmops_drift_judge_checks_total", "Judge-drift checks published, by verdict", ["verdict"])
_FINAL = {"completed", "failed", "cancelled"}


def _utcnow() -> datetime:
    return datetime.now(UTC)


class _NoVerdict(Exception):
    """A check that ends without a verdict: the reason goes into the report."""


@dataclass
class _State:
    monitor: JudgeMonitorConfigured
    """The monitor's configuration this schedule is of (another one starts a new schedule)."""
    next_due: datetime | None = None
    run_id: str | None = None
    """The run in flight (started, not yet seen final): the next check waits for it rather than start another."""
    task: asyncio.Task[DriftReported] | None = None
    checked_run: str | None = None
    """The run the check under way is about (its report names it, whatever happens to it)."""
    seen: datetime | None = None
    """The persisted ``next_check_at`` last seen: one that changed, and is earlier, was asked for elsewhere."""

    @property
    def running(self) -> bool:
        return self.task is not None and not self.task.done()


class JudgeScheduler:
    """Starts due monitors' checks on a timer (a lifespan component) or when :meth:`tick` is called."""

    def __init__(
        self,
        monitors: MonitorRegistry,
        evaluation: EvaluationClient | None,
        out: EventPublisher,
        settings: JudgeSettings,
        *,
        source: str,
        owners: MonitorOwners | None = None,
        clock: Callable[[], datetime] = _utcnow,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.monitors, self.evaluation, self.out, self.settings = monitors, evaluation, out, settings
        self.source, self.clock, self.sleep = source, clock, sleep
        self.owners = owners or MonitorOwners()
        self._states: dict[tuple[str, str], _State] = {}
        self._slots = asyncio.Semaphore(settings.max_concurrent_checks)
        self._writing = asyncio.Lock()
        self._loop_task: asyncio.Task[None] | None = None
        if self.owners.ownership is not None:
            self.owners.ownership.before_revoke = self.revoked

    async def start(self) -> None:
        if self.settings.enabled:
            self._loop_task = asyncio.create_task(self._run(), name="judge-drift")

    async def stop(self) -> None:
        await cancel_and_wait([self._loop_task, *(s.task for s in self._states.values())])

    async def _run(self) -> None:
        while True:
            try:
                self.tick()
            except Exception as exc:  # the loop outlives a bad tick; the next one tries again
                log_unexpected(log, "judge-drift tick failed", exc)
            await self.sleep(self.settings.tick_s)

    def tick(self) -> list[asyncio.Task[DriftReported]]:
        """Start the check of every due monitor owned here without one under way; the tasks started."""
        if not self.monitors.store.caught_up:
            return []
        every = self.monitors.store.every()
        live = [(t, m) for t, m in every if self.owners.owns(t, m.monitor_id)]
        existing = {(tenant, m.monitor_id) for tenant, m in every}
        for key in set(self._states) - {(tenant, m.monitor_id) for tenant, m in live}:
            state = self._states.pop(key)  # removed: a check under way still finishes and reports
            if key in existing and state.task is not None:
                state.task.cancel()  # owned elsewhere now (a revocation under way): its new owner takes the run
        started = []
        for tenant, monitor in live:
            state = self._state(tenant, monitor)
            if state.running or (state.next_due and self.clock() < state.next_due):
                continue
            started.append(self._launch(tenant, monitor, state))
        return started

    def _state(self, tenant: str, monitor: JudgeMonitorConfigured) -> _State:
        """The monitor's schedule here: taken from its partition when new here, afresh when it was replaced."""
        key, persisted = (tenant, monitor.monitor_id), self.owners.schedule(tenant, monitor)
        state = self._states.get(key)
        if state is None:  # a restart, a takeover or a new monitor: a run in flight is waited for at once
            due = None if persisted.run_in_flight else persisted.next_check_at
            state = _State(monitor, due, persisted.run_in_flight, seen=persisted.next_check_at)
        elif not same_config(state.monitor, monitor):  # replaced: checked at once, its next run a new baseline
            state = _State(monitor, task=state.task, seen=persisted.next_check_at)
        elif persisted.next_check_at != state.seen:  # written since: a check asked for on another replica
            state.seen = persisted.next_check_at
            if persisted.next_check_at and (state.next_due is None or persisted.next_check_at < state.next_due):
                state.next_due = persisted.next_check_at
        self._states[key] = state
        return state

    def owns(self, tenant: str, monitor_id: str) -> bool:
        """Whether this replica checks the monitor (the owner of its partition)."""
        return self.settings.enabled and self.owners.owns(tenant, monitor_id)

    def start_now(self, tenant: str, monitor: JudgeMonitorConfigured) -> bool:
        """Start the monitor's check now, here (its interval counts from now); False when one is under way."""
        state = self._state(tenant, monitor)
        if state.running:
            return False
        self._launch(tenant, monitor, state)
        return True

    async def revoked(self) -> None:
        """Partitions went to another replica: stop the checks of the monitors no longer owned here, once no
        schedule write is in flight (the new owner reads it), so each monitor is checked by one replica."""
        async with self._writing:
            gone = [key for key in self._states if not self.owners.owns(*key)]
            await cancel_and_wait([self._states.pop(key).task for key in gone])

    def _launch(self, tenant: str, monitor: JudgeMonitorConfigured, state: _State) -> asyncio.Task[DriftReported]:
        state.next_due = self.clock() + timedelta(seconds=monitor.interval_s)
        state.task = asyncio.create_task(self.check(tenant, monitor, state), name=f"judge:{monitor.monitor_id}")
        return state.task

    async def _persist(self, tenant: str, monitor: JudgeMonitorConfigured, state: _State) -> None:
        """Publish the schedule on the monitor; Kafka down: kept here, written again at the check's end."""
        async with self._writing:
            if not self.owners.owns(tenant, monitor.monitor_id):
                return  # revoked meanwhile: the new owner's schedule is the monitor's now
            try:
                await self.monitors.schedule(tenant, monitor, state.next_due, state.run_id)
            except Exception as exc:
                log_unexpected(log, f"storing the schedule of judge monitor {monitor.monitor_id} failed", exc)

    async def check(self, tenant: str, monitor: JudgeMonitorConfigured, state: _State | None = None) -> DriftReported:
        """One check of ``monitor``, published; its report (a report with no verdict when it could not run)."""
        state = state or self._state(tenant, monitor)
        async with self._slots:
            started, state.checked_run = self.clock(), None
            try:
                report = await self._check(tenant, monitor, state, started)
            except _NoVerdict as reason:
                report = self._failed(tenant, monitor, state, started, str(reason))
            except PlatformCallError as exc:
                if exc.status == 404:  # the run (or the baseline) is unknown there: start afresh next time
                    state.run_id = None
                report = self._failed(tenant, monitor, state, started, f"the evaluation service refused: {exc}")
            except Exception as exc:  # a check never takes the service down; the next one retries
                log_unexpected(log, f"judge-drift check of {monitor.monitor_id} failed", exc)
                report = self._failed(tenant, monitor, state, started, f"the check failed: {type(exc).__name__}")
            await self._publish(tenant, report)
            await self._persist(tenant, monitor, state)
            return report

    def _failed(
        self, tenant: str, monitor: JudgeMonitorConfigured, state: _State, started: datetime, reason: str
    ) -> DriftReported:
        return judge_report(tenant, monitor, started=started, ended=self.clock(), run_id=state.checked_run,
                            reason=reason, now=self.clock())  # fmt: skip

    async def _check(
        self, tenant: str, monitor: JudgeMonitorConfigured, state: _State, started: datetime
    ) -> DriftReported:
        if self.evaluation is None:
            raise _NoVerdict("no evaluation service configured (LLMOPS_EVALUATION_URL and LLMOPS_SERVICE_KEY)")
        deadline = started + timedelta(seconds=self.settings.run_timeout_s)
        if state.run_id is None:
            state.run_id = str((await self.evaluation.start_run(tenant, _spec(monitor)))["run_id"])
            await self._persist(tenant, monitor, state)  # a restart from here waits for this run
        run_id = state.checked_run = state.run_id
        run = await self._finished(tenant, run_id, deadline)
        state.run_id = None
        if run["status"] != "completed":
            raise _NoVerdict(f"run {run_id} {run['status']}: {run.get('error') or 'no reason given'}")
        ran = datetime.fromisoformat(run["created_at"]), datetime.fromisoformat(run["updated_at"])
        if monitor.baseline_run_id is None:
            await self.monitors.set_baseline(tenant, monitor, run_id)
            raise _NoVerdict(f"run {run_id} is the monitor's baseline: the next runs are paired with it")
        compared = await self._compared(tenant, monitor.baseline_run_id, run_id, deadline)
        metrics = check_pairs(pairs_of(compared["examples"], monitor.judge.name), min_items=monitor.min_items,
                              min_shift=monitor.min_shift, alpha=monitor.alpha)  # fmt: skip
        return judge_report(tenant, monitor, started=ran[0], ended=ran[1], run_id=run_id, metrics=metrics,
                            now=self.clock())  # fmt: skip

    async def _finished(self, tenant: str, run_id: str, deadline: datetime) -> dict[str, Any]:
        assert self.evaluation is not None
        while True:
            run = await self.evaluation.run(tenant, run_id)
            if run.get("status") in _FINAL:
                return run
            if self.clock() >= deadline:
                raise _NoVerdict(
                    f"run {run_id} did not finish within {self.settings.run_timeout_s:g} s "
                    f"({run.get('completed', 0)} of {run.get('total', '?')} items): the next check waits for it"
                )
            await self.sleep(self.settings.poll_s)

    async def _compared(self, tenant: str, baseline: str, run_id: str, deadline: datetime) -> dict[str, Any]:
        """The per-example comparison, once the warehouse holds both runs' scores (503 until then)."""
        assert self.evaluation is not None
        while True:
            try:
                return await self.evaluation.compare(tenant, baseline, run_id, examples=self.settings.max_rows)
            except PlatformCallError as exc:
                if not exc.retryable or self.clock() >= deadline:
                    raise
            await self.sleep(self.settings.poll_s)

    async def _publish(self, tenant: str, report: DriftReported) -> None:
        event = CloudEvent.wrap(report, source=self.source, tenant_id=tenant, event_id=report.report_id)
        try:
            await self.out.publish_many([event])
        except Exception as exc:  # Kafka down: logged and counted; the next check reports again
            log_unexpected(log, "publishing a judge-drift report failed", exc)
            return
        CHECKS.labels({True: "drift", False: "no_drift", None: "no_verdict"}[report.dataset_drift]).inc()


def _spec(monitor: JudgeMonitorConfigured) -> dict[str, Any]:
    """The run of the anchor set: the pinned version, the monitor's variant, its judge alone (inline, pinned)."""
    return {
        "dataset": monitor.dataset,
        "dataset_version": monitor.dataset_version,
        "variant": monitor.variant.model_dump(mode="json", exclude_none=True),
        "inline": [monitor.judge.model_dump(mode="json")],
    }
