"""The groundedness benchmark: its cross-validation never tunes on the fold it scores, and (slow, with the model
server's real embedder) the evaluator beats the lexical-overlap baseline with the default threshold it ships."""

from __future__ import annotations

from statistics import median

import bench_groundedness as bench
import pytest
from llmops_evaluation.semantic.kinds import DEFAULT_SUPPORT_THRESHOLD

BASELINE = "lexical overlap (baseline)"
EVALUATOR = "embeddings + checks (the evaluator)"


def judged(fold: int, similarity: float, unsupported: bool) -> bench.Judged:
    return bench.Judged("t", fold, unsupported, "k", similarity, 0.0, check_failed=False)


def test_a_folds_threshold_is_chosen_on_the_other_folds_only() -> None:
    # Folds 1-3 separate at 0.41; fold 0 alone would want above 0.8.
    train = [judged(f, s, u) for f in (1, 2, 3) for s, u in ((0.4, True), (0.6, False))]
    held_out = [judged(0, 0.8, True), judged(0, 0.95, False)]
    results = bench.cross_validate(train + held_out)
    assert results[EVALUATOR]["thresholds"][0] == pytest.approx(0.41)  # with fold 0 it would be above 0.8


def test_the_labelled_set_has_at_least_100_sentences_of_both_labels() -> None:
    sentences = [s for row in bench.load() for s in row["sentences"]]
    labels = [s["label"] for s in sentences]
    assert len(sentences) >= 100
    assert set(labels) == {"supported", "unsupported"}
    assert min(labels.count("supported"), labels.count("unsupported")) >= 40


@pytest.mark.slow
async def test_the_evaluator_beats_the_lexical_baseline_with_the_real_embedder() -> None:
    results, _ = await bench.measure()
    evaluator, baseline = results[EVALUATOR], results[BASELINE]
    assert evaluator["f1"] > baseline["f1"] + 0.05
    assert evaluator["precision"] > baseline["precision"]
    assert evaluator["recall"] >= 0.75
    assert median(evaluator["thresholds"]) == pytest.approx(DEFAULT_SUPPORT_THRESHOLD, abs=0.051)
