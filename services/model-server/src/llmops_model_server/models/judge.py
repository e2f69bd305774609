"""``judge``: a small deterministic judge model, answering a rubric prompt with a score or a preference as text.

The tiny ``llm`` cannot follow a rubric, and the evaluation service's judges must be tested end to end
(rubric prompt, gateway, Triton, text answer, parsing) without a hosted model. This judge reads the texts a
rubric marks with tags, ``<question>``, ``<context>`` and ``<answer>`` (or ``<answer_a>`` and ``<answer_b>``),
embeds them with the ``embedder``'s MiniLM (the same weights, nothing downloaded) and answers as a judge
model would, in prose:

* one answer: its cosine similarity to the question and to the context (the mean of those present) on a
  five-point scale (``Score: 4/5`` and a reason line); an empty answer scores 1;
* two answers: ``Preferred: A``, ``Preferred: B`` or ``Preferred: tie`` (closer than :data:`TIE_MARGIN`);
* no tagged answer: a sentence without a score, which a judge's parser must record as malformed.

The same prompt always gets the same text, in any batch: it is a measuring instrument, not a language
model (sampling parameters are accepted and ignored).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

__all__ = ["NO_ANSWER", "THRESHOLDS", "TIE_MARGIN", "RubricJudge", "Verdict", "sections"]

THRESHOLDS = (0.15, 0.3, 0.45, 0.6)
"""Similarity at or above each threshold adds a point to 1: 0.6 and up is 5/5."""
TIE_MARGIN = 0.02
"""Two answers whose similarities differ by less are a tie."""
NO_ANSWER = "I found no <answer> to judge in the rubric."
_TAG = re.compile(r"<(question|context|answer|answer_a|answer_b)>(.*?)</\1>", re.DOTALL | re.IGNORECASE)


class Encoder(Protocol):
    """What the judge needs of the embedder."""

    def embed_counted(self, texts: Sequence[str]) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int32]]: ...


@dataclass(frozen=True, slots=True)
class Verdict:
    """The judge's answer to one prompt: its text and the tokens it read (embedder word pieces) and wrote (words)."""

    text: str
    prompt_tokens: int
    completion_tokens: int


def sections(prompt: str) -> dict[str, str]:
    """The tagged texts of a rendered rubric (the first of each tag; tags are case-insensitive)."""
    found: dict[str, str] = {}
    for match in _TAG.finditer(prompt):
        found.setdefault(match.group(1).lower(), match.group(2).strip())
    return found


def _score(similarity: float) -> int:
    return 1 + sum(similarity >= t for t in THRESHOLDS)


class RubricJudge:
    """Judges rubric prompts in batches, with one embedder pass over all their texts."""

    def __init__(self, encoder: Encoder) -> None:
        self._encoder = encoder

    def judge(self, prompts: Sequence[str]) -> list[Verdict]:
        """One verdict per prompt, in order."""
        parsed = [sections(p) for p in prompts]
        texts = sorted({t for s in parsed for t in s.values() if t})
        vectors, counts = self._encoder.embed_counted(texts)
        index = {t: i for i, t in enumerate(texts)}

        def similarity(answer: str, s: dict[str, str]) -> float:
            refs = [s[k] for k in ("question", "context") if s.get(k)]
            if not answer or not refs:
                return 0.0
            return float(np.mean([vectors[index[answer]] @ vectors[index[r]] for r in refs]))

        verdicts = []
        for s in parsed:
            text = self._text(s, similarity)
            read = sum(int(counts[index[t]]) for t in set(s.values()) if t)
            verdicts.append(Verdict(text, read, len(text.split())))
        return verdicts

    @staticmethod
    def _text(s: dict[str, str], sim: Callable[[str, dict[str, str]], float]) -> str:
        if "answer_a" in s and "answer_b" in s:
            a, b = sim(s["answer_a"], s), sim(s["answer_b"], s)
            choice = "tie" if abs(a - b) < TIE_MARGIN else ("A" if a > b else "B")
            why = f"answer A is {a:.2f} similar to the question and context, answer B {b:.2f}"
            return f"Preferred: {choice}\nReason: {why}."
        if "answer" not in s:
            return NO_ANSWER
        value = sim(s["answer"], s)
        return f"Score: {_score(value)}/5\nReason: the answer is {value:.2f} similar to the question and context."
