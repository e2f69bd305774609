"""Next-token choice: greedy, temperature, nucleus (top-p), and reproducibility from a seed."""

from __future__ import annotations

import numpy as np
import pytest
from llmops_model_server.models.sampling import SamplingParams, next_token, nucleus, probabilities

LOGITS = np.log(np.array([0.5, 0.2, 0.15, 0.1, 0.05], dtype=np.float32))


def draws(params: SamplingParams, n: int = 2000) -> np.ndarray:
    rng = params.rng()
    return np.array([next_token(LOGITS, params, rng) for _ in range(n)])


def test_temperature_zero_is_greedy() -> None:
    assert set(draws(SamplingParams(temperature=0.0), 50)) == {0}


def test_same_seed_same_tokens_different_seed_different_tokens() -> None:
    a = draws(SamplingParams(temperature=1.0, seed=42), 200)
    b = draws(SamplingParams(temperature=1.0, seed=42), 200)
    c = draws(SamplingParams(temperature=1.0, seed=43), 200)
    assert (a == b).all()
    assert (a != c).any()


def test_temperature_one_follows_the_distribution() -> None:
    freq = np.bincount(draws(SamplingParams(temperature=1.0, seed=1), 20000), minlength=5) / 20000
    assert np.allclose(freq, [0.5, 0.2, 0.15, 0.1, 0.05], atol=0.02)


def test_low_temperature_sharpens_high_temperature_flattens() -> None:
    cold = probabilities(LOGITS, 0.25)
    hot = probabilities(LOGITS, 4.0)
    assert cold[0] > 0.9
    assert hot.max() - hot.min() < 0.2
    assert cold.sum() == pytest.approx(1.0) and hot.sum() == pytest.approx(1.0)


def test_nucleus_keeps_the_smallest_set_reaching_top_p() -> None:
    probs = np.array([0.5, 0.2, 0.15, 0.1, 0.05])
    assert np.count_nonzero(nucleus(probs, 0.5)) == 1
    assert np.count_nonzero(nucleus(probs, 0.6)) == 2
    assert np.count_nonzero(nucleus(probs, 0.86)) == 4
    kept = nucleus(probs, 0.7)
    assert kept.sum() == pytest.approx(1.0)
    assert kept[:2] == pytest.approx([0.5 / 0.7, 0.2 / 0.7])


def test_top_p_never_samples_outside_the_nucleus() -> None:
    assert set(draws(SamplingParams(temperature=1.0, top_p=0.6, seed=3))) == {0, 1}


@pytest.mark.parametrize(
    ("temperature", "top_p"), [(-0.1, 1.0), (float("nan"), 1.0), (float("inf"), 1.0), (1.0, 0.0), (1.0, 1.5)]
)
def test_invalid_parameters_are_rejected(temperature: float, top_p: float) -> None:
    with pytest.raises(ValueError):
        SamplingParams(temperature=temperature, top_p=top_p)
