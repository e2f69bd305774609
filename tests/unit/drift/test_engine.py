"""The drift engine: each kind's test, the bad inputs it must name, Benjamini-Hochberg and the dataset verdict."""

from __future__ import annotations

import math

import numpy as np
import pytest
from llmops_drift import DriftConfig, Kind, check, infer_kind
from llmops_drift.multiple import benjamini_hochberg

RNG_SEED = 7


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(RNG_SEED)


def _numbers(rng: np.random.Generator, n: int, mean: float = 0.0, sd: float = 1.0) -> list[object]:
    return [float(x) for x in rng.normal(mean, sd, n)]


def test_kinds_are_inferred_from_the_values() -> None:
    assert infer_kind([1, 2.5, None, float("nan")]) is Kind.NUMERIC
    assert infer_kind(["gpt-4o", "claude", None]) is Kind.CATEGORICAL
    assert infer_kind(["how do I reset my password", "what is the refund policy here"]) is Kind.TEXT
    assert infer_kind([[0.1, 0.2], [0.3, 0.4]]) is Kind.EMBEDDING
    assert infer_kind([True, False]) is Kind.CATEGORICAL
    assert infer_kind([1, "one"]) is Kind.CATEGORICAL


def test_identical_distributions_do_not_drift(rng: np.random.Generator) -> None:
    report = check({"x": _numbers(rng, 2000)}, {"x": _numbers(rng, 1000)})

    assert report.dataset_drift is False
    assert report.features["x"].drift is False
    assert report.features["x"].test == "ks"


def test_a_mean_shift_drifts_with_every_numeric_statistic_reported(rng: np.random.Generator) -> None:
    result = check({"x": _numbers(rng, 2000)}, {"x": _numbers(rng, 1000, mean=0.5)}).features["x"]

    assert result.drift is True
    assert result.p_value is not None and result.p_value < 1e-6
    assert set(result.statistics) == {"ks", "psi", "wasserstein", "wasserstein_norm"}
    assert result.effect_size == pytest.approx(0.5, abs=0.1)


def test_a_significant_but_tiny_shift_is_not_drift(rng: np.random.Generator) -> None:
    """Large samples make 0.05 standard deviations significant; the effect floor keeps it from being drift."""
    result = check({"x": _numbers(rng, 200_000)}, {"x": _numbers(rng, 100_000, mean=0.05)}).features["x"]

    assert result.p_value is not None and result.p_value < 0.05
    assert result.drift is False


def test_nan_infinity_and_non_numbers_are_left_out_and_said_so(rng: np.random.Generator) -> None:
    current = [*_numbers(rng, 500), float("nan"), math.inf, -math.inf, None, "n/a"]
    result = check({"x": _numbers(rng, 500)}, {"x": current}, kinds={"x": Kind.NUMERIC}).features["x"]

    assert result.sample_size == (500, 500)
    assert "2 missing value(s) in current left out" in result.notes
    assert "2 infinite value(s) in current left out" in result.notes
    assert "1 non-numeric value(s) in current left out" in result.notes
    assert result.drift is False


def test_a_constant_feature_has_a_verdict_and_a_note() -> None:
    same = check({"x": [3.0] * 100}, {"x": [3.0] * 60}).features["x"]
    moved = check({"x": [3.0] * 100}, {"x": [4.0] * 60}).features["x"]

    assert same.drift is False and "constant in reference" in same.notes
    assert moved.drift is True


def test_a_category_never_seen_in_the_reference_is_tested_and_named(rng: np.random.Generator) -> None:
    reference = list(rng.choice(["en", "fr", "de"], 2000))
    current = list(rng.choice(["en", "fr", "de"], 900)) + ["ja"] * 100
    result = check({"lang": reference}, {"lang": current}).features["lang"]

    assert result.test == "chi2"
    assert result.drift is True
    assert any("never seen in reference" in note and "'ja'" in note for note in result.notes)


def test_missing_categorical_values_are_a_category(rng: np.random.Generator) -> None:
    reference = list(rng.choice(["a", "b"], 1000))
    current = [None if i % 3 == 0 else value for i, value in enumerate(rng.choice(["a", "b"], 600))]

    assert check({"c": reference}, {"c": current}).features["c"].drift is True


def test_too_few_samples_give_no_verdict_and_say_so(rng: np.random.Generator) -> None:
    report = check({"x": _numbers(rng, 20)}, {"x": _numbers(rng, 10, mean=5)})

    assert report.dataset_drift is None
    assert report.reason == "no feature had enough samples for a verdict"
    assert report.features["x"].drift is None
    assert report.features["x"].p_value is None
    assert report.features["x"].notes == ("too few samples for a verdict: 20 in reference, 10 in current, 30 needed",)


def _texts(rng: np.random.Generator, n: int, vocabulary: list[str]) -> list[object]:
    return [" ".join(rng.choice(vocabulary, 8)) for _ in range(n)]


def test_a_topic_shift_in_text_is_found_by_the_domain_classifier(rng: np.random.Generator) -> None:
    billing = [f"billing{i}" for i in range(100)]
    shipping = [f"shipping{i}" for i in range(100)]
    same = check({"t": _texts(rng, 600, billing)}, {"t": _texts(rng, 300, billing)}).features["t"]
    moved = check({"t": _texts(rng, 600, billing)}, {"t": _texts(rng, 300, billing[:50] + shipping)}).features["t"]

    assert same.test == "domain_classifier" and same.drift is False
    assert moved.drift is True
    assert moved.statistic is not None and moved.statistic > 0.8


def test_embeddings_are_compared_with_mmd(rng: np.random.Generator) -> None:
    reference = rng.normal(0, 1, (400, 16)).tolist()
    same = check({"e": reference}, {"e": rng.normal(0, 1, (200, 16)).tolist()}).features["e"]
    moved = check({"e": reference}, {"e": rng.normal(0.5, 1, (200, 16)).tolist()}).features["e"]

    assert same.test == "mmd" and same.drift is False
    assert moved.drift is True and "roc_auc" in moved.statistics


def test_embeddings_of_different_dimensions_are_refused() -> None:
    with pytest.raises(ValueError, match="embeddings of different dimensions"):
        check({"e": [[0.0, 1.0]] * 40}, {"e": [[0.0, 1.0]] * 39 + [[1.0]]})


def test_a_feature_absent_from_one_side_has_no_verdict(rng: np.random.Generator) -> None:
    report = check({"x": _numbers(rng, 100)}, {"x": _numbers(rng, 100), "y": _numbers(rng, 100)})

    assert report.features["y"].drift is None
    assert report.features["y"].notes == ("absent from reference",)
    assert report.dataset_drift is False


def test_benjamini_hochberg_matches_the_textbook_example() -> None:
    """Benjamini and Hochberg (1995): of these 15 p-values the four smallest are discoveries at q=0.05."""
    p = [0.0001, 0.0004, 0.0019, 0.0095, 0.0201, 0.0278, 0.0298, 0.0344, 0.0459, 0.3240, 0.4262, 0.5719, 0.6528,
         0.7590, 1.0]  # fmt: skip
    adjusted = benjamini_hochberg(p)

    assert [value <= 0.05 for value in adjusted] == [True] * 4 + [False] * 11
    assert adjusted[0] == pytest.approx(0.0015)


def test_one_drifted_feature_among_many_makes_the_dataset_drift(rng: np.random.Generator) -> None:
    reference = {f"x{i}": _numbers(rng, 2000) for i in range(8)}
    current = {f"x{i}": _numbers(rng, 1000, mean=0.4 if i == 3 else 0.0) for i in range(8)}
    report = check(reference, current)

    assert report.dataset_drift is True
    assert report.drifted == ["x3"]


def test_the_fdr_is_configurable(rng: np.random.Generator) -> None:
    reference, current = {"x": _numbers(rng, 300)}, {"x": _numbers(rng, 300, mean=0.2)}
    strict = check(reference, current, config=DriftConfig(fdr=1e-9))

    assert strict.features["x"].threshold == 1e-9
    assert strict.dataset_drift is False


def test_texts_without_words_or_without_repeated_words_still_get_a_verdict() -> None:
    empty = check({"t": [""] * 60 + ["   "] * 10}, {"t": [""] * 60}, kinds={"t": Kind.TEXT}).features["t"]
    unique = check({"t": [f"a{i} b{i} c{i}" for i in range(60)]}, {"t": [f"x{i} y{i} z{i}" for i in range(60)]})

    assert empty.drift is False and empty.notes == ("no words in any text",)
    assert unique.features["t"].drift is not None


def test_topics_fitted_on_the_reference_show_which_way_text_moved(rng: np.random.Generator) -> None:
    billing = [f"billing{i}" for i in range(40)]
    shipping = [f"shipping{i}" for i in range(40)]
    reference = {"t": _texts(rng, 400, billing) + _texts(rng, 400, shipping)}
    same = {"t": _texts(rng, 200, billing) + _texts(rng, 200, shipping)}
    moved = {"t": _texts(rng, 350, billing) + _texts(rng, 50, shipping)}
    config = DriftConfig(topics=4)

    assert check(reference, same, config=config).features["t:topic"].drift is False
    moved_topics = check(reference, moved, config=config).features["t:topic"]
    assert moved_topics.kind is Kind.CATEGORICAL and moved_topics.drift is True
    assert "t:topic" not in check(reference, moved).features  # off by default


def _directions(rng: np.random.Generator, n: int, centres: np.ndarray, weights: list[float]) -> list[object]:
    """Unit vectors around ``centres`` (rows), drawn with ``weights``: embeddings of a few topics."""
    picks = rng.choice(len(centres), n, p=weights)
    points = centres[picks] + rng.normal(0, 0.3, (n, centres.shape[1]))
    return (points / np.linalg.norm(points, axis=1, keepdims=True)).tolist()


def test_an_embedding_shift_drifts_alone_among_many_features(rng: np.random.Generator) -> None:
    """With 200 permutations the MMD p-value could not fall under BH's fdr / features: more permutations follow."""
    centres = rng.normal(0, 1, (4, 24))
    reference = {f"x{i}": _numbers(rng, 400) for i in range(12)} | {"e": _directions(rng, 400, centres, [0.25] * 4)}
    same = {f"x{i}": _numbers(rng, 300) for i in range(12)} | {"e": _directions(rng, 300, centres, [0.25] * 4)}
    moved = same | {"e": _directions(rng, 300, centres, [0.7, 0.1, 0.1, 0.1])}

    assert check(reference, same).dataset_drift is False
    report = check(reference, moved)
    assert report.drifted == ["e"]
    assert report.features["e"].p_value is not None and report.features["e"].p_value < 0.01 / 13


def test_embedding_topics_fitted_on_the_reference_show_which_way_embeddings_moved(rng: np.random.Generator) -> None:
    centres = rng.normal(0, 1, (4, 24))
    reference = {"e": _directions(rng, 400, centres, [0.25] * 4) + [None] * 50}
    same = {"e": _directions(rng, 300, centres, [0.25] * 4)}
    moved = {"e": [None] * 20 + _directions(rng, 300, centres, [0.7, 0.1, 0.1, 0.1])}
    config = DriftConfig(topics=4)

    assert check(reference, same, config=config).features["e:topic"].drift is False
    topics = check(reference, moved, config=config).features["e:topic"]
    assert topics.kind is Kind.CATEGORICAL and topics.drift is True
    assert "e:topic" not in check(reference, moved).features  # off by default
