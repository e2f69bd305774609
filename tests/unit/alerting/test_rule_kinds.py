"""The rule kinds evaluation_score_drop and cost_anomaly: events in, observations out, and through the engine and
the poller with an injectable clock (the cost service's own spike events, built by its ``alert_for``)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
from llmops_alerting.poller import Poller
from llmops_alerting.rules import ScoreWindows, observe_event
from llmops_alerting.state import AlertBook, Spikes
from llmops_cost.anomalies import Spike, alert_for
from llmops_schemas import CloudEvent
from llmops_schemas.registry import parse_event
from llmops_schemas.v2 import AlertRuleConfigured, AlertStateChanged, EvaluationScored
from llmops_schemas.v2.examples import EXAMPLES

from tests.unit.alerting.support import NOW, auth
from tests.unit.alerting.test_engine import engine_with

DROP = AlertRuleConfigured(
    rule_id="drop",
    name="relevance dropped",
    kind="evaluation_score_drop",
    metric="relevance",
    app="bot",
    threshold=0.1,
    window_s=600,
    baseline_s=3600,
    notifiers=["pd"],
    updated_by="k",
    updated_at=NOW,
)
SPIKES = AlertRuleConfigured(
    rule_id="spend",
    name="spend spike",
    kind="cost_anomaly",
    window_s=7200,
    severity="critical",
    notifiers=["pd"],
    updated_by="k",
    updated_at=NOW,
)


def scored(at: datetime, value: float, **update: Any) -> CloudEvent[EvaluationScored]:
    base = EvaluationScored.model_validate(EXAMPLES[EvaluationScored])
    item = base.scores[0].model_copy(update={"metric": "relevance", "score": value, "outcome": "scored"})
    payload = base.model_copy(update={"scores": [item], "app": "bot", "judged_at": at, **update})
    return CloudEvent.wrap(payload, source="/services/evaluation", tenant_id="acme")


def test_a_drop_against_the_baseline_fires_and_a_recovery_resolves() -> None:
    windows = ScoreWindows(max_samples=1000, min_samples=3)
    for i in range(6):  # the baseline: an hour of 0.9 (judged against itself: no drop)
        early = observe_event(scored(NOW - timedelta(minutes=50 - 5 * i), 0.9), [DROP], windows)
        assert not any(o.holds for o in early)
    found = [o for i in range(3) for o in observe_event(scored(NOW + timedelta(minutes=i), 0.7), [DROP], windows)]
    assert [o.holds for o in found] == [True]  # from the third recent score: 0.2 below the baseline
    assert found[0].value is not None and round(found[0].value, 6) == 0.2
    assert found[0].labels == {"app": "bot", "metric": "relevance"}
    offline = observe_event(scored(NOW + timedelta(minutes=3), 0.0, run_id="run-1"), [DROP], windows)
    assert offline == []  # offline runs are platform traffic
    later = [observe_event(scored(NOW + timedelta(minutes=5 + i), 0.95), [DROP], windows) for i in range(12)]
    assert later[-1] and not later[-1][0].holds  # the 0.7s left the window: no drop any more


def test_a_small_dip_does_not_fire() -> None:
    windows = ScoreWindows(max_samples=1000, min_samples=3)
    for i in range(6):
        observe_event(scored(NOW - timedelta(minutes=50 - 5 * i), 0.9), [DROP], windows)
    found = [o for i in range(3) for o in observe_event(scored(NOW + timedelta(minutes=i), 0.85), [DROP], windows)]
    assert found and not any(o.holds for o in found)


def spike_event(hour: datetime, group_by: str = "app", group: str = "bot") -> CloudEvent[Any]:
    spike = Spike(hour=hour, value=4.2, baseline=0.3, spread=0.05)
    published = alert_for("acme", group_by, group, spike, source="/services/cost")
    return parse_event(published.to_json_bytes())  # as the consumer reads it: the v1 event upcast


def test_cost_spikes_of_the_cost_service_observe_cost_anomaly_rules() -> None:
    windows, spikes = ScoreWindows(10, 1), Spikes()
    hour = NOW - timedelta(hours=1)
    [found] = observe_event(spike_event(hour), [SPIKES], windows, spikes, NOW)
    assert found.holds and found.labels == {"app": "bot"} and found.value == 4.2
    assert spikes.last("acme", found.alert_id) == NOW  # the end of the spike's hour
    scoped = SPIKES.model_copy(update={"app": "other"})
    assert observe_event(spike_event(hour), [scoped], windows, spikes, NOW) == []
    by_model = SPIKES.model_copy(update={"model": "gpt"})
    assert observe_event(spike_event(hour, "model", "gpt"), [by_model], windows, spikes, NOW)[0].labels == {
        "model": "gpt"
    }
    stale = observe_event(spike_event(NOW - timedelta(days=3)), [SPIKES], windows, spikes, NOW)
    assert stale == []  # history read at a first start: it would resolve at once
    own = AlertStateChanged.model_validate(EXAMPLES[AlertStateChanged]).model_copy(update={"rule": "cost-spike"})
    assert observe_event(CloudEvent.wrap(own, source="/x", tenant_id="acme"), [SPIKES], windows, spikes, NOW) == []


async def test_a_cost_anomaly_fires_once_and_resolves_window_s_after_the_last_spike() -> None:
    engine, publisher = engine_with(SPIKES)
    clock = [NOW]
    poller = Poller(engine, engine.config, None, interval_s=30, clock=lambda: clock[0])
    windows = ScoreWindows(10, 1)

    async def spike(hour: datetime) -> None:
        await engine.observe(observe_event(spike_event(hour), [SPIKES], windows, engine.spikes, clock[0]))

    await spike(NOW - timedelta(hours=1))
    clock[0] = NOW + timedelta(hours=1)
    await spike(NOW)  # the next hour spikes too: the same alert, still open
    clock[0] = NOW + timedelta(hours=2, minutes=30)
    await poller.run_once()
    assert [c.status for c in publisher.of(AlertStateChanged)] == ["firing"]  # 1.5 h after the last spike
    clock[0] = NOW + timedelta(hours=3, minutes=1)
    await poller.run_once()
    changes = publisher.of(AlertStateChanged)
    assert [c.status for c in changes] == ["firing", "resolved"] and changes[0].severity == "critical"


async def test_a_cost_anomaly_rule_resolving_faster_than_spikes_come_is_refused(client: httpx.AsyncClient) -> None:
    body = {"name": "spend", "kind": "cost_anomaly", "window_s": 600}
    answer = await client.put("/v1/rules/spend", json=body, headers=auth("admin"))
    assert answer.status_code == 422 and "at least 3600" in answer.text
    assert (
        await client.put("/v1/rules/spend", json={**body, "window_s": 7200}, headers=auth("admin"))
    ).status_code == 201
    drop = DROP.model_dump(mode="json", exclude={"rule_id", "updated_by", "updated_at", "deleted", "notifiers"})
    assert (await client.put("/v1/rules/drop", json=drop, headers=auth("admin"))).status_code == 201
    missing = await client.put("/v1/rules/d2", json={**drop, "baseline_s": None}, headers=auth("admin"))
    assert missing.status_code == 422 and "baseline_s is set exactly" in missing.text
    unknown = await client.put("/v1/rules/x", json={**body, "kind": "latency_spike"}, headers=auth("admin"))
    assert unknown.status_code == 422


def test_the_cost_services_own_spikes_are_not_open_alerts_of_this_service() -> None:
    book = AlertBook()
    book.apply(spike_event(NOW - timedelta(hours=1)))
    assert book.open("acme") == []
