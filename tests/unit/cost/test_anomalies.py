"""Spend spikes against a seasonal baseline: precision and recall on a simulated series with known spikes."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

from llmops_cost.anomalies import AnomalyWatch, SpikeRule, spikes
from llmops_kit.kafka.publisher import InMemoryPublisher
from llmops_schemas.v1 import AlertStateChanged

START = datetime(2026, 1, 1, tzinfo=UTC)


def simulated(seed: int, days: int = 35, spike_count: int = 25) -> tuple[dict[datetime, float], set[datetime]]:
    """Hourly spend with a daily cycle (busy afternoons, quiet nights), a weekly dip, 15 % noise and a slow trend;
    ``spike_count`` hours after the first week multiplied by 2 to 6 (the known spikes)."""
    rng = random.Random(seed)
    series: dict[datetime, float] = {}
    for h in range(days * 24):
        at = START + timedelta(hours=h)
        daily = 1.0 + 0.8 * math.sin((at.hour - 9) / 24 * 2 * math.pi)
        weekly = 0.7 if at.weekday() >= 5 else 1.0
        trend = 1.0 + h / (days * 24) * 0.3
        series[at] = max(0.0, 2.0 * daily * weekly * trend * rng.gauss(1.0, 0.15))
    candidates = [START + timedelta(hours=h) for h in range(8 * 24, days * 24)]
    known = set(rng.sample(candidates, spike_count))
    for at in known:
        series[at] *= rng.uniform(2.0, 6.0)
    return series, known


def test_precision_and_recall_are_at_least_0_8_on_simulated_series() -> None:
    found_total = true_total = known_total = 0
    for seed in range(5):
        series, known = simulated(seed)
        found = {s.hour for s in spikes(series, SpikeRule())}
        found_total += len(found)
        true_total += len(found & known)
        known_total += len(known)
    precision, recall = true_total / found_total, true_total / known_total
    assert precision >= 0.8 and recall >= 0.8, (precision, recall)


def test_no_alert_without_a_week_of_history_nor_on_a_flat_quiet_series() -> None:
    young = {START + timedelta(hours=h): 1.0 for h in range(48)}
    young[START + timedelta(hours=47)] = 50.0
    assert spikes(young, SpikeRule()) == []
    flat = {START + timedelta(hours=h): 0.001 for h in range(24 * 10)}
    flat[START + timedelta(days=9)] = 0.002  # doubles, but by a tenth of a cent
    assert spikes(flat, SpikeRule()) == []


async def test_the_watch_publishes_one_alert_per_spike_with_a_stable_id() -> None:
    series, _ = simulated(1, days=10, spike_count=0)
    now = START + timedelta(days=9, hours=15, minutes=5)
    hour = now.replace(minute=0) - timedelta(hours=1)
    series[hour] = series[hour] * 10

    async def read(tenant: str, group_by: str, start: datetime, end: datetime) -> list[tuple[datetime, str, float]]:
        rows = [(at, "gpt-4o-mini", usd) for at, usd in series.items() if start <= at < end]
        return rows if group_by == "model" else []

    publisher = InMemoryPublisher()
    watch = AnomalyWatch(read, lambda: ["acme"], publisher, source="/services/cost")
    assert await watch.check("acme", now) == 1
    assert await watch.check("acme", now) == 1
    first, second = (r.event for r in publisher.published)
    assert first.id == second.id  # the same hour examined twice is the same event
    assert {r.topic for r in publisher.published} == {"llmops.alerts"}
    (alert, _) = publisher.of(AlertStateChanged)
    assert (alert.rule, alert.labels["model"], alert.status) == ("cost-spike", "gpt-4o-mini", "firing")
