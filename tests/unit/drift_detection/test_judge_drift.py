"""Judge drift with the fake evaluation service and an injected clock: the baseline, the paired verdicts (moved,
unchanged, too few items), the failures that give a report with a reason and are retried, and the bounds."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from llmops_alerting.rules import ScoreWindows, observe_event
from llmops_drift_detection.judges.compare import check_pairs
from llmops_drift_detection.judges.report import judge_report
from llmops_kit.audit import Actor
from llmops_kit.http.problems import ProblemError
from llmops_schemas import CloudEvent
from llmops_schemas.registry import parse_event
from llmops_schemas.v2 import AlertRuleConfigured, DriftReported

from tests.unit.drift_detection.judge_support import ITEMS, TENANT, Harness


@pytest.fixture
async def h() -> AsyncIterator[Harness]:
    harness = Harness()
    await harness.client.start()
    yield harness
    await harness.scheduler.stop()
    await harness.client.stop()


def noisy(base: float, shift: float = 0.0):  # type: ignore[no-untyped-def]
    """Scores per item, the same in every run but ``shift`` added from the second run on."""
    return lambda run, example: base + (int(example[-2:]) % 3) * 0.5 + (shift if run > 1 else 0.0)


async def baseline_then_check(h: Harness) -> DriftReported:
    await h.monitor()
    [first] = await h.tick()
    h.clock.advance(3600)
    [second] = await h.tick()
    assert first.dataset_drift is None and "baseline" in (first.reason or "")
    return second


async def test_the_first_run_becomes_the_baseline_and_is_kept_on_the_monitor(h: Harness) -> None:
    await h.monitor()
    [report] = await h.tick()
    assert report.dataset_drift is None and report.reason == (
        "run run-1 is the monitor's baseline: the next runs are paired with it"
    )
    assert h.monitor_state().baseline_run_id == "run-1"
    assert h.fake.started == [{"dataset": "anchors", "dataset_version": 1, "variant": {"model": "support-echo",
                               "input_variable": "input", "parameters": {}},
                               "inline": [h.monitor_state().judge.model_dump(mode="json")]}]  # fmt: skip


async def test_moved_judge_scores_are_flagged(h: Harness) -> None:
    h.fake.score = noisy(4.0, shift=-1.0)
    report = await baseline_then_check(h)
    assert report.dataset_drift is True and report.reason is None
    assert report.judge is not None
    (metric,) = report.judge.metrics
    assert (metric.metric, metric.items, metric.drifted) == ("judge", len(ITEMS), True)
    assert metric.mean_shift == pytest.approx(-1.0)
    assert metric.p_value is not None and metric.p_value < 0.01
    assert (report.judge.baseline_run_id, report.judge.run_id) == ("run-1", "run-2")
    assert (report.app, report.model, report.reference.dataset_id) == ("support-bot", "judge-small", "anchors:1")
    assert [f.feature for f in report.features] == ["judge:helpfulness:judge"]


async def test_unchanged_judge_scores_are_not_flagged(h: Harness) -> None:
    h.fake.score = noisy(4.0)
    report = await baseline_then_check(h)
    assert report.dataset_drift is False and report.judge is not None
    (metric,) = report.judge.metrics
    assert (metric.drifted, metric.mean_shift, metric.p_value) == (False, 0.0, 1.0)


async def test_too_few_items_give_no_verdict(h: Harness) -> None:
    h.fake.seed(TENANT, "anchors", ITEMS[:4])
    h.fake.score = noisy(4.0, shift=-2.0)
    report = await baseline_then_check(h)
    assert report.dataset_drift is None
    assert report.reason == "too few paired items: 4 (minimum 10)"


def test_a_significant_but_small_shift_is_not_drift() -> None:
    pairs = {"judge": [(4.0 + i * 0.01, 4.05 + i * 0.01) for i in range(40)]}
    [metric] = check_pairs(pairs, min_items=10, min_shift=0.25, alpha=0.01)
    assert metric.p_value is not None and metric.p_value < 1e-6
    assert metric.drifted is False


def test_metrics_are_adjusted_together() -> None:
    """Two metrics: the adjusted p-values are Benjamini-Hochberg's of the two raw ones."""
    pairs = {
        "a": [(1.0, 1.0 + 0.3 * (i % 4)) for i in range(12)],
        "b": [(1.0, 1.0 + (0.5 if i < 7 else -0.5)) for i in range(12)],
    }
    results = {m.metric: m for m in check_pairs(pairs, min_items=10, min_shift=0.0, alpha=0.05)}
    raw = sorted((results[k].p_value or 0.0, k) for k in results)
    assert results[raw[1][1]].p_value_adjusted == pytest.approx(raw[1][0])
    assert results[raw[0][1]].p_value_adjusted == pytest.approx(min(1.0, raw[0][0] * 2, raw[1][0]))
    assert all(math.isfinite(m.statistic or 0.0) for m in results.values())


async def test_a_judge_drift_raises_a_drift_alert_of_its_own(h: Harness) -> None:
    h.fake.score = noisy(4.0, shift=-1.0)
    report = await baseline_then_check(h)
    wire = CloudEvent.wrap(report, source="/services/drift-detection", tenant_id=TENANT, event_id=report.report_id)
    event = parse_event(wire.to_json_bytes())  # as alerting reads it off the topic
    rule = AlertRuleConfigured(rule_id="d", name="drift", kind="drift", app="support-bot", updated_by="k",
                               updated_at=report.computed_at)  # fmt: skip
    [seen] = observe_event(event, [rule], ScoreWindows(10, 1))
    assert seen.holds and seen.labels == {
        "app": "support-bot",
        "feature": "judge:support-judge",
        "model": "judge-small",
    }


async def test_the_evaluation_service_down_is_a_report_with_a_reason_and_the_next_tick_retries(h: Harness) -> None:
    await h.monitor()
    h.fake.down = 503
    [down] = await h.tick()
    assert down.dataset_drift is None
    assert (
        down.reason == "the evaluation service refused: evaluation answered 503: the evaluation service is unavailable"
    )
    assert await h.tick() == []  # not due again before its interval
    h.fake.down = None
    h.clock.advance(3600)
    [baseline] = await h.tick()
    assert "baseline" in (baseline.reason or "")


async def test_a_failed_run_is_reported_and_is_never_the_baseline(h: Harness) -> None:
    await h.monitor()
    h.fake.fail_with = "the gateway answered 502 for every item"
    [failed] = await h.tick()
    assert failed.reason == "run run-1 failed: the gateway answered 502 for every item"
    assert h.monitor_state().baseline_run_id is None


async def test_a_slow_run_times_out_and_is_awaited_again_instead_of_starting_another(h: Harness) -> None:
    h.fake.score = noisy(4.0, shift=-1.0)
    await h.monitor(baseline_run_id="run-0")
    h.fake.hold = True
    [slow] = await h.tick()
    assert slow.reason == "run run-1 did not finish within 600 s (0 of 12 items): the next check waits for it"
    assert slow.judge is not None and slow.judge.run_id == "run-1"
    h.fake.hold = False
    h.clock.advance(3600)
    [_] = await h.tick()
    assert len(h.fake.started) == 1  # the same run, waited for again


async def test_one_check_in_flight_per_monitor(h: Harness) -> None:
    await h.monitor()
    started = h.scheduler.tick()
    h.clock.advance(7200)
    assert h.scheduler.tick() == []  # the first is still under way
    assert h.scheduler.start_now(TENANT, h.monitor_state()) is False
    await started[0]
    assert h.scheduler.start_now(TENANT, h.monitor_state()) is True


async def test_an_unknown_baseline_is_a_report_with_the_reason(h: Harness) -> None:
    await h.monitor(baseline_run_id="run-gone")
    [report] = await h.tick()
    assert report.reason == "the evaluation service refused: evaluation answered 404: no such run"


async def test_a_runs_verdict_has_one_id_and_a_timeout_of_the_same_run_another(h: Harness) -> None:
    monitor = await h.monitor(baseline_run_id="run-0")
    at, later = h.clock(), h.clock() + timedelta(hours=1)
    metrics = check_pairs({"judge": [(4.0, 4.0)] * 10}, min_items=10, min_shift=0.25, alpha=0.01)
    verdicts = [judge_report(TENANT, monitor, started=at, ended=at, run_id="run-1", metrics=metrics, now=now)
                for now in (at, later)]  # fmt: skip
    assert verdicts[0].report_id == verdicts[1].report_id
    timeout = judge_report(TENANT, monitor, started=at, ended=at, run_id="run-1", reason="slow", now=at)
    assert timeout.report_id != verdicts[0].report_id
    other = judge_report(TENANT, monitor, started=at, ended=at, run_id="run-2", metrics=metrics, now=at)
    assert other.report_id != verdicts[0].report_id


async def test_a_compare_failure_names_the_run_it_was_about(h: Harness) -> None:
    await h.monitor(baseline_run_id="run-gone")
    [report] = await h.tick()
    assert report.judge is not None and report.judge.run_id == "run-1"


async def test_monitors_are_bounded_per_tenant_and_need_a_model(h: Harness) -> None:
    for n in range(3):
        await h.monitor(f"m{n}")
    with pytest.raises(ProblemError) as refused:
        await h.monitor("m3")
    assert refused.value.status == 409
    await h.monitor("m0", interval_s=7200)  # replacing one is not a new one
    with pytest.raises(ProblemError) as invalid:
        await h.monitor("m1", variant={"prompt_name": "support"})
    assert invalid.value.status == 422


async def test_a_removed_monitor_is_not_checked_again(h: Harness) -> None:
    await h.monitor()
    await h.tick()
    await h.registry.delete(TENANT, "support-judge", Actor(key_id="admin-key"))
    h.clock.advance(86_400)
    assert await h.tick() == []
    assert [e.data.action for e in h.publisher.on("llmops.audit.records")] == [
        "judge_monitor.create", "judge_monitor.delete"
    ]  # fmt: skip
