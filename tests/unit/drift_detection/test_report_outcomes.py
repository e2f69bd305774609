"""Reports over scores, feedback and sampled embeddings (features only some calls have), with known truth, and
what a window reference keeps of them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import numpy as np
from llmops_drift import DriftConfig
from llmops_drift_detection.features import Scope
from llmops_drift_detection.outcomes import Outcomes
from llmops_drift_detection.references import References
from llmops_drift_detection.reports import OUTCOMES_FEATURE, build_report
from llmops_schemas.v1 import TimeWindow
from llmops_schemas.v2 import DriftReference, DriftReported, FeatureDrift

from tests.unit.drift_detection.outcomes_data import scored
from tests.unit.evaluation.calls import call
from tests.unit.feedback.history import InMemoryHistory

SCOPE = Scope("acme", "support-bot", "production", "gpt-4o-mini")
SPAN = TimeWindow(start=datetime(2026, 3, 14, 9, tzinfo=UTC), end=datetime(2026, 3, 14, 10, tzinfo=UTC))
REFERENCE = DriftReference(kind="previous_window", window=SPAN)
SCORE = "score:relevance@1/relevance"
EMBEDDING = "prompt_embedding"
CENTRES = np.random.default_rng(11).normal(0, 1, (4, 32))


def _rows(rng: np.random.Generator, count: int) -> list[dict[str, Any]]:
    return [{"latency_ms": float(rng.normal(300, 30)), "error": "false", "model": "gpt-4o-mini"} for _ in range(count)]


def _with(rows: list[dict[str, Any]], name: str, values: list[Any]) -> list[dict[str, Any]]:
    """``rows`` with ``values`` of ``name`` on the first ``len(values)`` of them (the others have none)."""
    return [row | {name: value} for row, value in zip(rows, values, strict=False)] + rows[len(values) :]


def _report(current: list[dict[str, Any]], baseline: list[dict[str, Any]], **options: Any) -> DriftReported:
    config = options.pop("config", DriftConfig())
    return build_report(SCOPE, SPAN, REFERENCE, current, baseline, config=config, min_samples=30,
                        include_platform=False, **options)  # fmt: skip


def _feature(report: DriftReported, name: str) -> FeatureDrift:
    return next(f for f in report.features if f.feature == name)


def test_shifted_scores_drift_on_that_evaluator_only() -> None:
    rng = np.random.default_rng(1)
    baseline = _with(_rows(rng, 300), SCORE, rng.beta(8, 2, 200).tolist())
    same = _with(_rows(rng, 300), SCORE, rng.beta(8, 2, 150).tolist())
    worse = _with(_rows(rng, 300), SCORE, rng.beta(4, 4, 150).tolist())

    assert _report(same, baseline).dataset_drift is False
    report = _report(worse, baseline)
    assert report.dataset_drift is True and [f.feature for f in report.features if f.drifted] == [SCORE]
    score = _feature(report, SCORE)
    assert (score.kind, score.sample_size, score.baseline_sample_size) == ("numeric", 150, 200)
    assert score.notes[0] == "on 150 of 300 calls in the window and 200 of 300 in the reference"


def test_a_falling_thumbs_up_rate_drifts_and_calls_without_thumbs_are_not_a_category() -> None:
    rng = np.random.default_rng(2)
    baseline = _with(_rows(rng, 400), "feedback:thumbs_up", ["true"] * 80 + ["false"] * 20)
    same = _with(_rows(rng, 400), "feedback:thumbs_up", ["true"] * 40 + ["false"] * 10)  # half as much feedback
    worse = _with(_rows(rng, 400), "feedback:thumbs_up", ["true"] * 20 + ["false"] * 30)

    assert _feature(_report(same, baseline), "feedback:thumbs_up").drifted is False
    thumbs = _feature(_report(worse, baseline), "feedback:thumbs_up")
    assert thumbs.drifted is True and thumbs.kind == "categorical" and thumbs.sample_size == 50


def test_a_window_where_few_calls_were_scored_has_no_verdict_on_that_feature_and_says_so() -> None:
    rng = np.random.default_rng(3)
    baseline = _with(_rows(rng, 300), SCORE, rng.beta(8, 2, 200).tolist())
    report = _report(_with(_rows(rng, 300), SCORE, [0.1] * 12), baseline)

    score = _feature(report, SCORE)
    assert score.drifted is None and score.test == "none"
    assert score.notes == ["on 12 of 300 calls in the window and 200 of 300 in the reference",
                           "too few samples for a verdict: 200 in reference, 12 in current, 30 needed"]  # fmt: skip
    assert report.dataset_drift is False  # the other features still have their verdict


def test_scores_on_one_side_only_have_no_verdict() -> None:
    rng = np.random.default_rng(4)
    report = _report(_with(_rows(rng, 300), SCORE, [0.5] * 100), _rows(rng, 300))

    assert _feature(report, SCORE).drifted is None and "absent from reference" in _feature(report, SCORE).notes


def test_scores_that_could_not_be_read_are_said_so_in_the_report() -> None:
    rng = np.random.default_rng(5)
    note = "evaluation scores and feedback not read: the warehouse answered 503"
    report = _report(_rows(rng, 100), _rows(rng, 100), notes=[note])
    first = _report(_rows(rng, 100), [], notes=[note])

    assert report.features[0].feature == OUTCOMES_FEATURE and report.features[0].notes == [note]
    assert report.dataset_drift is False  # the window's other features are checked as usual
    assert [f.feature for f in first.features] == [OUTCOMES_FEATURE, "calls"] and first.dataset_drift is None


def _embeddings(rng: np.random.Generator, count: int, weights: list[float], dimension: int = 32) -> list[Any]:
    picks = rng.choice(len(CENTRES), count, p=weights)
    points = CENTRES[picks, :dimension] + rng.normal(0, 0.3, (count, dimension))
    return (points / np.linalg.norm(points, axis=1, keepdims=True)).tolist()


def test_sampled_embeddings_are_tested_with_mmd_and_their_topics() -> None:
    rng = np.random.default_rng(6)
    config = DriftConfig(topics=4)
    baseline = _with(_rows(rng, 300), EMBEDDING, _embeddings(rng, 150, [0.25] * 4))
    same = _with(_rows(rng, 300), EMBEDDING, _embeddings(rng, 120, [0.25] * 4))
    moved = _with(_rows(rng, 300), EMBEDDING, _embeddings(rng, 120, [0.7, 0.1, 0.1, 0.1]))

    assert _report(same, baseline, config=config).dataset_drift is False
    report = _report(moved, baseline, config=config)
    assert sorted(f.feature for f in report.features if f.drifted) == [EMBEDDING, f"{EMBEDDING}:topic"]
    embedding, topic = _feature(report, EMBEDDING), _feature(report, f"{EMBEDDING}:topic")
    assert (embedding.kind, embedding.test, embedding.sample_size) == ("embedding", "mmd", 120)
    assert "roc_auc" in embedding.statistics and embedding.notes[0].startswith("on 120 of 300 calls")
    assert (topic.kind, topic.test, topic.sample_size, topic.baseline_sample_size) == ("categorical", "chi2", 120, 150)


def test_embeddings_of_another_dimension_are_left_out_not_a_failed_check() -> None:
    rng = np.random.default_rng(7)
    baseline = _with(_rows(rng, 200), EMBEDDING, _embeddings(rng, 100, [0.25] * 4))
    current = _with(
        _rows(rng, 200), EMBEDDING, _embeddings(rng, 90, [0.25] * 4) + _embeddings(rng, 10, [1, 0, 0, 0], 16)
    )

    embedding = _feature(_report(current, baseline), EMBEDDING)
    assert embedding.sample_size == 90 and embedding.drifted is False
    assert embedding.notes[0].endswith("; 10 embedding(s) of another dimension than the reference's left out")


async def test_a_window_reference_keeps_a_bounded_number_of_embeddings() -> None:
    rng = np.random.default_rng(8)
    rows = _with(_rows(rng, 400), EMBEDDING, _embeddings(rng, 300, [0.25] * 4))
    references = References("previous_window", 30, max_embeddings=50)
    table: dict[object, object] = {}

    entry = references.after_close(SCOPE, SPAN, rows, table)
    assert entry is not None and len(json.dumps(entry)) < 200_000
    table[SCOPE.encode()] = json.loads(json.dumps(entry))  # as the changelog carries it
    _, kept = await references.reference(SCOPE, SPAN, table)

    assert len(kept) == 400 and sum(EMBEDDING in row for row in kept) == 50
    first = next(row for row in kept if EMBEDDING in row)
    assert np.allclose(first[EMBEDDING], rows[0][EMBEDDING], atol=1e-3)  # float16 is close enough
    assert kept[0]["latency_ms"] == rows[0]["latency_ms"]


def test_a_window_reference_fits_one_kafka_record_whatever_the_window_held() -> None:
    rng = np.random.default_rng(9)
    rows = [row | {f"score:e{i}@1/m": 0.5 for i in range(20)} for row in _rows(rng, 20_000)]

    entry = References("previous_window", 30).after_close(SCOPE, SPAN, rows, {})

    assert entry is not None and 0 < len(entry["rows"]) < 20_000 and len(json.dumps(entry)) < 1_000_000


async def test_a_pinned_dataset_has_its_calls_scores() -> None:
    history = InMemoryHistory()
    period = (datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 8, tzinfo=UTC))
    stored = [json.loads(call(call_id=f"c-{i}").data.model_dump_json()) for i in range(40)]
    for i in range(30):
        history.add("acme", "evaluation_scores", scored(f"c-{i}", 0.7, period[0]), period[0])

    class Calls:
        async def calls(self, tenant: str, **filters: object):  # type: ignore[no-untyped-def]
            for record in stored:
                yield record

    outcomes = Outcomes(history, lag_s=60, max_rows=1000, timeout_s=5)
    references = References("dataset", 30, reader=Calls(), period=period, outcomes=outcomes)  # type: ignore[arg-type]
    _, rows = await references.reference(SCOPE, SPAN, {})

    assert len(rows) == 40 and sum(SCORE in row for row in rows) == 30
    assert history.reads[0][2] == {"app": "support-bot", "start": period[0].isoformat(), "end": period[1].isoformat()}


async def test_an_embedding_beyond_float16_is_kept_as_it_is() -> None:
    rows = [{"latency_ms": 1.0, EMBEDDING: [1e6, 0.5]}] * 40
    references = References("previous_window", 30)

    entry = references.after_close(SCOPE, SPAN, rows, {})

    assert entry is not None and entry["rows"][0][EMBEDDING] == [1e6, 0.5]
