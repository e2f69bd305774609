"""Drift scenarios with a known truth for bench_drift.py: 8 mixed features of LLM calls, one change per scenario.

Features: ``latency_ms``, ``prompt_tokens``, ``answer_length`` (lognormal), ``score`` (normal, an evaluation
score), ``model``, ``language``, ``status`` (categorical) and ``prompt`` (text: words of a few topics). Each
scenario changes the current sample in a stated way; ``truth`` names the features that drifted (the dataset
drifted when any did). "tiny shift" moves latency by 0.05 of its log-scale spread: real, but too small to matter,
so its truth is "no drift".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

FEATURES = ("latency_ms", "prompt_tokens", "answer_length", "score", "model", "language", "status", "prompt")
KINDS = {"latency_ms": "numeric", "prompt_tokens": "numeric", "answer_length": "numeric", "score": "numeric",
         "model": "categorical", "language": "categorical", "status": "categorical", "prompt": "text"}  # fmt: skip
TOPICS = ("billing", "shipping", "account", "returns")
COMMON = [f"common{i}" for i in range(40)]


@dataclass(frozen=True)
class Population:
    """The distributions a sample is drawn from (the reference's unless a scenario changes one)."""

    latency_log_mean: float = 6.5
    latency_log_sd: float = 0.4
    tokens_log_mean: float = 5.0
    answer_log_mean: float = 6.0
    score_sd: float = 0.1
    models: dict[str, float] = field(
        default_factory=lambda: {"gpt-4o": 0.4, "claude": 0.3, "gemini": 0.2, "llama": 0.1}
    )
    languages: dict[str, float] = field(default_factory=lambda: {"en": 0.6, "fr": 0.15, "de": 0.15, "es": 0.1})
    topics: dict[str, float] = field(default_factory=lambda: {"billing": 0.5, "shipping": 0.3, "account": 0.2})


def _pick(rng: np.random.Generator, weights: dict[str, float], n: int) -> list[str]:
    return [str(v) for v in rng.choice(list(weights), n, p=np.array(list(weights.values())) / sum(weights.values()))]


def _prompts(rng: np.random.Generator, topics: dict[str, float], n: int) -> list[str]:
    vocabulary = {topic: [f"{topic}{i}" for i in range(60)] for topic in TOPICS}
    out = []
    for topic, words in zip(_pick(rng, topics, n), rng.integers(8, 15, n), strict=True):
        own = rng.choice(vocabulary[topic], int(words * 0.7))
        out.append(" ".join([*own, *rng.choice(COMMON, int(words) - len(own))]))
    return out


def sample(population: Population, n: int, rng: np.random.Generator) -> list[dict[str, Any]]:
    """``n`` records of the 8 features drawn from ``population``."""
    columns: dict[str, list[Any]] = {
        "latency_ms": np.round(rng.lognormal(population.latency_log_mean, population.latency_log_sd, n), 1).tolist(),
        "prompt_tokens": np.round(rng.lognormal(population.tokens_log_mean, 0.5, n)).astype(int).tolist(),
        "answer_length": np.round(rng.lognormal(population.answer_log_mean, 0.3, n)).astype(int).tolist(),
        "score": np.round(rng.normal(0.7, population.score_sd, n), 4).tolist(),
        "model": _pick(rng, population.models, n),
        "language": _pick(rng, population.languages, n),
        "status": _pick(rng, {"ok": 0.97, "error": 0.03}, n),
        "prompt": _prompts(rng, population.topics, n),
    }
    return [{name: columns[name][i] for name in FEATURES} for i in range(n)]


@dataclass(frozen=True)
class Scenario:
    """A change to the current population, the features it makes drift, and the sample sizes."""

    name: str
    change: Callable[[Population], Population]
    truth: frozenset[str]
    reference_rows: int = 2000
    current_rows: int = 1000


def _with(**changes: Any) -> Callable[[Population], Population]:
    return lambda base: Population(**{**base.__dict__, **changes})


SCENARIOS = [
    Scenario("no drift", _with(), frozenset()),
    Scenario("no drift, small samples", _with(), frozenset(), 200, 100),
    Scenario("mean shift", _with(latency_log_mean=6.7), frozenset({"latency_ms"})),
    Scenario("variance shift", _with(score_sd=0.16), frozenset({"score"})),
    Scenario(
        "new category",
        _with(languages={"en": 0.54, "fr": 0.135, "de": 0.135, "es": 0.09, "ja": 0.1}),
        frozenset({"language"}),
    ),
    Scenario(
        "category mix", _with(models={"gpt-4o": 0.2, "claude": 0.3, "gemini": 0.2, "llama": 0.3}), frozenset({"model"})
    ),
    Scenario(
        "topic shift",
        _with(topics={"billing": 0.2, "shipping": 0.3, "account": 0.3, "returns": 0.2}),
        frozenset({"prompt"}),
    ),
    Scenario("length shift", _with(answer_log_mean=6.25), frozenset({"answer_length"})),
    Scenario("one feature of many", _with(tokens_log_mean=5.15), frozenset({"prompt_tokens"})),
    Scenario("tiny shift", _with(latency_log_mean=6.52), frozenset()),
    Scenario("small samples, mean shift", _with(latency_log_mean=6.9), frozenset({"latency_ms"}), 200, 100),
]


def generate(scenario: Scenario, seed: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The reference and current records of one seed of ``scenario`` (deterministic per seed)."""
    rng = np.random.default_rng([seed, SCENARIOS.index(scenario)])
    base = Population()
    return sample(base, scenario.reference_rows, rng), sample(scenario.change(base), scenario.current_rows, rng)
