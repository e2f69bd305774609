"""Spend spikes against a seasonal baseline, published as ``llmops.alert.state_changed.v1`` on ``llmops.alerts``.

The series is hourly spend per tenant and group (app or model). An hour's baseline is the median of the same
hour of the day over the previous ``days`` days, and its spread the median absolute deviation of those values
(scaled to a standard deviation, 1.4826). The hour is a spike when it exceeds the baseline by more than ``z``
spreads *and* by more than ``min_ratio`` times the baseline *and* by at least ``min_usd``: the first alone
fires on flat, quiet series whose spread is 0; the others alone miss a spike in a noisy hour. Robust statistics,
so a past spike does not lift the baseline it is compared with. A group needs ``days`` days of history first.

:class:`AnomalyWatch` runs the detector each hour on the warehouse's hourly cost report and publishes one alert
per spike; the alert id is derived from the tenant, group and hour, so a second run (a restart) repeats the
same event, which consumers and the warehouse keep once.
"""

from __future__ import annotations

import asyncio
import logging
import statistics
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from llmops_kit.kafka.publisher import EventPublisher
from llmops_kit.tasks import cancel_and_wait
from llmops_schemas import CloudEvent
from llmops_schemas.v1 import AlertStateChanged

__all__ = ["AnomalyWatch", "Hourly", "Spike", "SpikeRule", "alert_for", "spikes"]

log = logging.getLogger(__name__)
_NAMESPACE = uuid.UUID("2b5d6f0e-6a1c-4f3e-8d2b-7c9e0a4f1b36")
_MAD_TO_SD = 1.4826


@dataclass(frozen=True)
class SpikeRule:
    """How far above its seasonal baseline an hour's spend must be to be a spike."""

    days: int = 7
    z: float = 4.0
    min_ratio: float = 0.5
    min_usd: float = 0.01


@dataclass(frozen=True, slots=True)
class Spike:
    hour: datetime
    value: float
    baseline: float
    spread: float


def _baseline(history: Sequence[float]) -> tuple[float, float]:
    median = statistics.median(history)
    spread = _MAD_TO_SD * statistics.median(abs(v - median) for v in history)
    return median, spread


def spikes(series: Mapping[datetime, float], rule: SpikeRule, hours: Sequence[datetime] | None = None) -> list[Spike]:
    """The spikes among ``hours`` (default: every hour of ``series``) of an hourly spend series (missing = 0)."""
    found: list[Spike] = []
    if not series:
        return found
    first = min(series)
    for hour in hours if hours is not None else sorted(series):
        if hour - timedelta(days=rule.days) < first:
            continue  # not enough history yet
        history = [series.get(hour - timedelta(days=d), 0.0) for d in range(1, rule.days + 1)]
        value = series.get(hour, 0.0)
        baseline, spread = _baseline(history)
        excess = value - baseline
        if excess > rule.z * spread and excess > rule.min_ratio * baseline and excess >= rule.min_usd:
            found.append(Spike(hour, value, baseline, spread))
    return found


def alert_for(tenant: str, group_by: str, group: str, spike: Spike, *, source: str) -> CloudEvent[AlertStateChanged]:
    """The firing alert of one spike; its id is the same however often the hour is examined."""
    key = f"{tenant}\x1f{group_by}\x1f{group}\x1f{spike.hour.isoformat()}"
    payload = AlertStateChanged(
        alert_id=f"cost-spike-{uuid.uuid5(_NAMESPACE, f'{tenant}{group_by}{group}')}",
        rule="cost-spike",
        severity="warning",
        status="firing",
        summary=f"{group_by} {group}: {spike.value:.4f} USD in an hour, baseline {spike.baseline:.4f}"[:256],
        value=round(spike.value, 6),
        labels={"group_by": group_by, group_by: group[:256], "hour": spike.hour.isoformat()},
        starts_at=spike.hour,
    )
    return CloudEvent.wrap(payload, source=source, tenant_id=tenant, event_id=str(uuid.uuid5(_NAMESPACE, key)))


Hourly = list[tuple[datetime, str, float]]
"""Rows of an hourly report: (hour, group, spend in USD)."""


class AnomalyWatch:
    """Each ``interval_s``, the last complete hour of every watched tenant, per app and per model."""

    def __init__(
        self,
        read: Callable[[str, str, datetime, datetime], Awaitable[Hourly]],
        tenants: Callable[[], list[str]],
        publisher: EventPublisher,
        *,
        source: str,
        rule: SpikeRule = SpikeRule(),
        interval_s: float = 3600.0,
    ) -> None:
        self._read, self._tenants, self._publisher = read, tenants, publisher
        self._source, self._rule, self._interval_s = source, rule, interval_s
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="cost:anomalies")

    async def stop(self) -> None:
        await cancel_and_wait([self._task])

    async def check(self, tenant: str, now: datetime) -> int:
        """Publish the spikes of the last complete hour before ``now``; how many."""
        hour = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
        start = hour - timedelta(days=self._rule.days)
        events = []
        for group_by in ("app", "model"):
            series: dict[str, dict[datetime, float]] = {}
            for at, group, usd in await self._read(tenant, group_by, start, hour + timedelta(hours=1)):
                series.setdefault(group, {})[at] = usd
            for group, values in series.items():
                events += [alert_for(tenant, group_by, group, s, source=self._source) for s in spikes(
                    values, self._rule, [hour])]  # fmt: skip
        if events:
            await self._publisher.publish_many(events)
        return len(events)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval_s)
            for tenant in self._tenants():
                try:
                    await self.check(tenant, datetime.now(UTC))
                except Exception as exc:  # the warehouse or Kafka down: the next hour tries again
                    log.warning("cost anomalies of a tenant not checked: %s", type(exc).__name__)
