"""Which answer sentences the context supports: embedding similarity plus number and negation checks.

A sentence is **supported** when some sentence of the context is close to it in meaning (cosine of their
embeddings at least ``threshold``) and nothing in it contradicts the context in a way embeddings miss:

* **numbers**: every number of the sentence (``1998``, ``3.5``, ``12,000``) occurs in the context. Sentence
  embeddings place "opened in 1998" and "opened in 1989" almost on top of each other;
* **negation**: the sentence and its closest context sentence are both negated or both not (English cues:
  not, no, never, n't, cannot, none, neither, nor, without). "The museum is open on Mondays" and "... is not
  open on Mondays" are close in embedding space too.

Each unsupported sentence carries its reason (``weak support 0.41``, ``number 1989 not in the context``,
``negation differs from the closest context sentence``). The threshold was chosen by cross-validation on
the labelled set of ``benchmarks/data/groundedness.jsonl`` (docs/benchmarks.md, docs/adr/0026).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from llmops_evaluation.semantic.base import Embedder

__all__ = ["NEGATION_CUES", "Support", "cosines", "negated", "numbers_of", "support"]

NEGATION_CUES = frozenset({"not", "no", "never", "cannot", "none", "neither", "nor", "without", "nothing", "nobody"})
_NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)*")
_WORD = re.compile(r"[a-z']+")


@dataclass(frozen=True, slots=True)
class Support:
    """One answer sentence's support: its closest context sentence's similarity, and why it is unsupported."""

    sentence: str
    similarity: float
    reason: str | None = None

    @property
    def supported(self) -> bool:
        return self.reason is None


def cosines(rows: Sequence[Sequence[float]], columns: Sequence[Sequence[float]]) -> npt.NDArray[np.float64]:
    """The cosine similarity of every row vector with every column vector (0 where a vector is zero)."""
    a, b = _unit(rows), _unit(columns)
    return np.clip(a @ b.T, -1.0, 1.0)


def _unit(vectors: Sequence[Sequence[float]]) -> npt.NDArray[np.float64]:
    matrix = np.asarray(vectors, dtype=np.float64)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return np.divide(matrix, norms, out=np.zeros_like(matrix), where=norms > 0)


def numbers_of(text: str) -> set[str]:
    """The numbers written in digits, thousands separators removed (``12,000`` and ``12000`` are one)."""
    found = set()
    for match in _NUMBER.finditer(text):
        number = match.group(0)
        found.add(number.replace(",", "") if re.fullmatch(r"\d{1,3}(?:,\d{3})+", number) else number)
    return found


def negated(text: str) -> bool:
    """Whether an English sentence carries a negation cue."""
    lowered = text.lower().replace("\u2019", "'")
    return "n't" in lowered or any(w in NEGATION_CUES for w in _WORD.findall(lowered))


async def support(
    sentences: Sequence[str],
    premises: Sequence[str],
    embed: Embedder,
    *,
    threshold: float,
    check_numbers: bool = True,
    check_negation: bool = True,
) -> list[Support]:
    """Each of ``sentences`` judged against the context's ``premises`` (both non-empty, both bounded by the
    caller), with one embedding request for all of them."""
    vectors = await embed.embed([*sentences, *premises])
    similarity = cosines(vectors[: len(sentences)], vectors[len(sentences) :])
    context_numbers = set().union(*(numbers_of(p) for p in premises)) if check_numbers else None
    judged = []
    for i, sentence in enumerate(sentences):
        best = int(np.argmax(similarity[i]))
        closest = premises[best] if check_negation else None
        score = float(similarity[i, best])
        judged.append(Support(sentence, score, _why_unsupported(sentence, score, threshold, context_numbers, closest)))
    return judged


def _why_unsupported(
    sentence: str, similarity: float, threshold: float, numbers: set[str] | None, closest: str | None
) -> str | None:
    """Why ``sentence`` is unsupported (None: it is); ``numbers`` and ``closest`` None skip those checks."""
    if similarity < threshold:
        return f"weak support {similarity:.2f}"
    missing = sorted(numbers_of(sentence) - numbers) if numbers is not None else []
    if missing:
        return f"number {missing[0]} not in the context"
    if closest is not None and negated(sentence) != negated(closest):
        return "negation differs from the closest context sentence"
    return None
