"""The engine and the rules: deduplication, auto-resolve, silences, grouping, events of each kind, metric rules
and objectives through the poller (an injectable clock and a fake warehouse: no waiting)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from llmops_alerting.engine import Engine, Observation
from llmops_alerting.objectives import BURN_ALERTS, Counts, burn_rate, evaluate_objective
from llmops_alerting.poller import Poller
from llmops_alerting.rules import ScoreWindows, observe_event
from llmops_alerting.state import AlertBook, ConfigStore, Outbox
from llmops_kit.kafka.publisher import InMemoryPublisher
from llmops_schemas import CloudEvent
from llmops_schemas.v1 import (
    BudgetStateChanged,
    DriftReported,
    NotifierConfigured,
    ObjectiveConfigured,
    SilenceSet,
)
from llmops_schemas.v1.examples import example_data
from llmops_schemas.v2 import AlertRuleConfigured, AlertStateChanged, EvaluationScored, NotificationQueued
from llmops_schemas.v2.examples import EXAMPLES

from tests.unit.alerting.support import NOW, metric_rule


def put(config: ConfigStore, entity: Any) -> None:
    config.apply(CloudEvent.wrap(entity, source="/t", tenant_id="acme"))


def engine_with(*entities: Any, clock: Any = lambda: NOW) -> tuple[Engine, InMemoryPublisher]:
    config, publisher = ConfigStore(), InMemoryPublisher()
    put(
        config,
        NotifierConfigured(
            notifier_id="pd",
            kind="pagerduty",
            url="https://pd.example/x",
            secret_ref="pd",
            min_severity="warning",
            updated_by="k",
            updated_at=NOW,
        ),
    )
    for entity in entities:
        put(config, entity)
    return Engine(AlertBook(), config, Outbox(), publisher, "/services/alerting", clock), publisher


RULE = AlertRuleConfigured(rule_id="err", updated_by="k", updated_at=NOW, notifiers=["pd"], **metric_rule())


def obs(holds: bool, at: datetime = NOW, severity: str = "critical", **labels: str) -> Observation:
    return Observation(
        "acme",
        "err",
        "err",
        severity,
        labels or {"app": "bot"},
        holds,
        at,
        "s",  # type: ignore[arg-type]
        group_by=["app"],
        notifiers=["pd"],
    )


async def test_a_condition_fires_once_and_resolves_when_it_stops_holding() -> None:
    engine, publisher = engine_with(RULE)
    await engine.observe([obs(True), obs(True)])
    await engine.observe([obs(True, NOW + timedelta(minutes=1))])
    await engine.observe([obs(False, NOW + timedelta(minutes=2)), obs(False, NOW + timedelta(minutes=3))])
    changes = publisher.of(AlertStateChanged)
    assert [c.status for c in changes] == ["firing", "resolved"]
    assert changes[0].alert_id == changes[1].alert_id and changes[0].group_key == "app=bot"
    assert changes[1].ends_at == NOW + timedelta(minutes=2)
    assert [n.alert.status for n in publisher.of(NotificationQueued)] == ["firing", "resolved"]
    assert engine.book.open("acme") == []


async def test_labels_make_separate_alerts_and_severity_filters_notifiers() -> None:
    engine, publisher = engine_with(RULE)
    await engine.observe([obs(True, app="a"), obs(True, app="b"), obs(True, severity="info", app="c")])
    assert len({c.alert_id for c in publisher.of(AlertStateChanged)}) == 3
    assert len(publisher.of(NotificationQueued)) == 2  # the notifier wants warning and above


async def test_a_silence_mutes_notifications_but_the_change_is_stored() -> None:
    silence = SilenceSet(
        silence_id="s",
        matchers={"app": "bot", "rule": "err"},
        starts_at=NOW - timedelta(hours=1),
        ends_at=NOW + timedelta(hours=1),
        updated_by="k",
        updated_at=NOW,
    )
    engine, publisher = engine_with(RULE, silence)
    await engine.observe([obs(True)])
    assert len(publisher.of(AlertStateChanged)) == 1 and publisher.of(NotificationQueued) == []
    later, _ = engine_with(RULE, silence, clock=lambda: NOW + timedelta(hours=2))
    await later.observe([obs(True)])
    assert len(later.outbox.pending) == 1


def _event(payload: Any) -> CloudEvent[Any]:
    return CloudEvent.wrap(payload, source="/t", tenant_id="acme")


def test_drift_budget_and_score_events_observe_their_rules() -> None:
    rules = [
        AlertRuleConfigured(rule_id="d", name="drift", kind="drift", updated_by="k", updated_at=NOW),
        AlertRuleConfigured(rule_id="b", name="budget", kind="budget", updated_by="k", updated_at=NOW),
        AlertRuleConfigured(
            rule_id="s",
            name="score",
            kind="evaluation_score",
            metric="relevance",
            threshold=0.5,
            comparison="below",
            window_s=600,
            updated_by="k",
            updated_at=NOW,
        ),
    ]
    windows = ScoreWindows(max_samples=100, min_samples=3)
    drift = DriftReported.model_validate({**example_data(DriftReported), "drifted": True})
    [seen] = observe_event(_event(drift), rules, windows)
    assert seen.rule_id == "d" and seen.holds and seen.labels["feature"] == drift.feature
    budget = BudgetStateChanged.model_validate(example_data(BudgetStateChanged))
    [spent] = observe_event(_event(budget), rules, windows)
    assert spent.rule_id == "b" and spent.holds == (budget.kind != "reset")
    scored = EvaluationScored.model_validate(EXAMPLES[EvaluationScored])
    low = scored.model_copy(
        update={"scores": [scored.scores[0].model_copy(update={"metric": "relevance", "score": 0.1})]}
    )
    found = [observe_event(_event(low), rules, windows) for _ in range(3)]
    assert found[0] == [] and found[1] == [] and found[2][0].holds  # fires from the third score on
    offline = low.model_copy(update={"run_id": "run-1"})
    assert observe_event(_event(offline), rules, windows) == []


class FakeWarehouse:
    """Metrics as the warehouse would answer: a bad share per call, the same in every window."""

    def __init__(self, calls: int, errors: int) -> None:
        self.calls, self.errors = calls, errors
        self.asked: list[dict[str, Any]] = []

    async def metrics_summary(self, tenant: str, **params: Any) -> list[dict[str, Any]]:
        self.asked.append(params)
        rate = self.errors / self.calls if self.calls else 0.0
        return [{"group": None, "calls": self.calls, "errors": self.errors, "error_rate": rate}]

    async def metrics_timeseries(self, tenant: str, **params: Any) -> list[dict[str, Any]]:
        return []


async def test_a_metric_rule_fires_and_resolves_through_the_poller() -> None:
    engine, publisher = engine_with(RULE)
    warehouse = FakeWarehouse(100, 20)
    poller = Poller(engine, engine.config, warehouse, interval_s=30, clock=lambda: NOW)
    await poller.run_once()
    warehouse.errors = 1
    await poller.run_once()
    assert [c.status for c in publisher.of(AlertStateChanged)] == ["firing", "resolved"]
    assert warehouse.asked[0]["origin"] == "application" and warehouse.asked[0]["group_by"] == "app"


OBJECTIVE = ObjectiveConfigured(
    objective_id="avail",
    app="bot",
    sli="error_rate",
    target=0.999,
    window_days=30,
    notifiers=["pd"],
    updated_by="k",
    updated_at=NOW,
)


def test_burn_thresholds_are_the_workbooks_for_30_days() -> None:
    assert [round(a.threshold(timedelta(days=30)), 2) for a in BURN_ALERTS] == [14.4, 6.0, 1.0]
    assert burn_rate(Counts(good=990, total=1000), 0.999) == pytest.approx(10.0)


async def test_an_objective_pages_on_a_fast_burn_and_resolves_when_the_short_window_recovers() -> None:
    def reads(bad_recent: float) -> Any:
        async def read(objective: ObjectiveConfigured, start: datetime, end: datetime) -> Counts:
            recent = end - start <= timedelta(minutes=30)  # both short windows of the fast burn
            bad = bad_recent if recent else 0.02
            return Counts(good=1000 * (1 - bad), total=1000)

        return read

    burning = await evaluate_objective(OBJECTIVE, NOW, reads(0.02))
    assert burning.burning == {"fast": True, "slow": True}
    assert round(burning.budget_remaining, 6) == -19.0  # 2 % bad against a 0.1 % budget: spent 20 times
    recovered = await evaluate_objective(OBJECTIVE, NOW + timedelta(minutes=10), reads(0.0))
    assert recovered.burning["fast"] is False


async def test_objectives_raise_burn_alerts_through_the_poller() -> None:
    engine, publisher = engine_with(OBJECTIVE)
    poller = Poller(engine, engine.config, FakeWarehouse(1000, 50), interval_s=30, clock=lambda: NOW)
    await poller.run_once()
    fired = {c.labels["burn"]: c for c in publisher.of(AlertStateChanged)}
    assert set(fired) == {"fast", "slow"} and fired["fast"].severity == "critical"
    assert {n.notifier_id for n in publisher.of(NotificationQueued)} == {"pd"}
    assert poller.statuses[("acme", "avail")].events == 1000


async def test_an_alert_that_fires_and_resolves_within_one_batch_has_both_changes() -> None:
    engine, publisher = engine_with(RULE)
    await engine.observe([obs(True), obs(False, NOW + timedelta(seconds=1)), obs(True, NOW + timedelta(seconds=2))])
    assert [c.status for c in publisher.of(AlertStateChanged)] == ["firing", "resolved", "firing"]
    assert [n.alert.status for n in publisher.of(NotificationQueued)] == ["firing", "resolved", "firing"]


async def test_the_service_reading_its_own_changes_back_late_does_not_reopen_an_alert() -> None:
    engine, publisher = engine_with(RULE)
    await engine.observe([obs(True)])
    await engine.observe([obs(False, NOW + timedelta(minutes=1))])
    firing = publisher.on(AlertStateChanged.topic)[0]
    engine.book.apply(firing)  # the materialiser reads the first change back only now
    assert engine.book.open("acme") == []
    await engine.observe([obs(False, NOW + timedelta(minutes=2))])
    assert [c.status for c in publisher.of(AlertStateChanged)] == ["firing", "resolved"]


def test_a_delivered_notification_read_back_before_its_tombstone_is_not_owed_again() -> None:
    outbox = Outbox()
    item = NotificationQueued.model_validate(EXAMPLES[NotificationQueued])
    outbox.add("acme", item)
    [key] = outbox.pending
    outbox.close(key)
    outbox.add("acme", item)  # the materialiser reads the record after the dispatcher delivered it
    assert outbox.pending == {}
    outbox.delete(key)  # its tombstone
    assert outbox.pending == {}


def test_a_newer_drift_report_version_still_fires_drift_rules() -> None:
    from typing import ClassVar

    from llmops_schemas.envelope import EventPayload

    class DatasetDrift(EventPayload):
        """A stand-in for a later drift report version with a dataset-level verdict."""

        event_type: ClassVar[str] = "llmops.drift.dataset_reported.v9"
        topic: ClassVar[str] = DriftReported.topic
        app: str
        dataset_drift: bool

    rule = AlertRuleConfigured(rule_id="d", name="drift", kind="drift", app="bot", updated_by="k", updated_at=NOW)
    [seen] = observe_event(_event(DatasetDrift(app="bot", dataset_drift=True)), [rule], ScoreWindows(10, 1))
    assert seen.holds and seen.labels == {"app": "bot", "feature": "dataset"}
    assert observe_event(_event(DatasetDrift(app="other", dataset_drift=True)), [rule], ScoreWindows(10, 1)) == []
