"""Choosing the next token: greedy at temperature 0, else temperature-scaled nucleus (top-p) sampling.

Each request samples from its own ``numpy.random.Generator`` seeded from the request's ``seed``, so the
same prompt, parameters and seed give the same completion, whatever else shares the batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import numpy as np
import numpy.typing as npt

from llmops_model_server.models.nn import Array

__all__ = ["SamplingParams", "next_token", "nucleus", "probabilities"]


@dataclass(frozen=True)
class SamplingParams:
    """How a completion is sampled; validated at the edge (the Triton binding)."""

    temperature: float = 1.0
    top_p: float = 1.0
    seed: int | None = None

    def __post_init__(self) -> None:
        if not (self.temperature >= 0.0 and np.isfinite(self.temperature)):
            raise ValueError(f"temperature must be a finite number >= 0, got {self.temperature}")
        if not 0.0 < self.top_p <= 1.0:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")

    def rng(self) -> np.random.Generator:
        return np.random.default_rng(self.seed)


Probs = npt.NDArray[np.float64]


def probabilities(logits: Array, temperature: float) -> Probs:
    """Softmax of ``logits / temperature`` in float64 (sums to 1 to within rounding)."""
    z = logits.astype(np.float64) / temperature
    e = np.exp(z - z.max())
    return cast(Probs, e / e.sum())


def nucleus(probs: Probs, top_p: float) -> Probs:
    """Zero every token outside the smallest set whose probability reaches ``top_p``; renormalise."""
    if top_p >= 1.0:
        return probs
    order = np.argsort(-probs, kind="stable")
    cumulative = np.cumsum(probs[order])
    keep = int(np.searchsorted(cumulative, top_p, side="left")) + 1  # tokens until the mass reaches top_p
    kept = np.zeros_like(probs)
    chosen = order[:keep]
    kept[chosen] = probs[chosen]
    return cast(Probs, kept / kept.sum())


def next_token(logits: Array, params: SamplingParams, rng: np.random.Generator) -> int:
    """One token id from a ``[V]`` row of logits."""
    if params.temperature == 0.0:
        return int(np.argmax(logits))
    probs = nucleus(probabilities(logits, params.temperature), params.top_p)
    index = int(np.searchsorted(np.cumsum(probs), rng.random() * probs.sum(), side="right"))
    return min(index, probs.shape[0] - 1)
