"""Heuristics over the answer's text: length bounds, refusal detection, banned terms."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated

from pydantic import Field, StrictBool, StringConstraints, model_validator

from llmops_evaluation.heuristics.base import Answer, Heuristic, Params, Verdict

__all__ = ["REFUSAL_PHRASES", "BannedTerms", "Length", "Refusal"]

Term = Annotated[str, StringConstraints(min_length=1, max_length=128)]


class LengthParams(Params):
    min_chars: int = Field(strict=True, default=0, ge=0, le=10_000_000)
    max_chars: int | None = Field(strict=True, default=None, ge=0, le=10_000_000)

    @model_validator(mode="after")
    def _ordered(self) -> LengthParams:
        if self.max_chars is not None and self.max_chars < self.min_chars:
            raise ValueError("max_chars must not be below min_chars")
        return self


class Length(Heuristic):
    """``length``: the answer's length in characters (the whole answer, never the capped text)."""

    kind = "length"
    version = "1"
    params = LengthParams

    @classmethod
    def build(cls, params: LengthParams) -> Callable[[Answer], list[Verdict]]:
        def judge(answer: Answer) -> list[Verdict]:
            n = answer.length
            label = "too_short" if n < params.min_chars else "ok"
            if params.max_chars is not None and n > params.max_chars:
                label = "too_long"
            return [Verdict("length", float(n), label == "ok", label=label, score_max=None)]

        return judge


REFUSAL_PHRASES: tuple[str, ...] = (
    "i can't help with",
    "i cannot help with",
    "i can't assist with",
    "i cannot assist with",
    "i'm not able to help",
    "i am not able to help",
    "i'm unable to",
    "i am unable to",
    "i won't be able to",
    "i can't provide",
    "i cannot provide",
    "i must decline",
    "i'm sorry, but i can",
    "i am sorry, but i can",
    "as an ai language model, i can",
)
"""Openings of refusals seen from chat models (matched case-insensitively, curly apostrophes too)."""


class RefusalParams(Params):
    phrases: Annotated[list[Term], Field(max_length=64)] = Field(
        default_factory=list, description="More refusal phrases, matched as literal text"
    )
    window_chars: int = Field(
        strict=True, default=400, ge=1, le=10_000, description="Where to look: the answer's start"
    )


class Refusal(Heuristic):
    """``refusal``: 1 when the model refused (its own flag, or a known phrase near the start), else 0."""

    kind = "refusal"
    version = "1"
    params = RefusalParams

    @classmethod
    def build(cls, params: RefusalParams) -> Callable[[Answer], list[Verdict]]:
        phrases = (*REFUSAL_PHRASES, *(p.lower() for p in params.phrases))
        # Escaped literals only: no user pattern ever reaches the regex engine.
        pattern = re.compile("|".join(re.escape(p) for p in phrases))

        def judge(answer: Answer) -> list[Verdict]:
            start = answer.text[: params.window_chars].lower().replace("\u2019", "'")
            refused = answer.refused or pattern.search(start) is not None
            label = "refusal" if refused else "answer"
            return [Verdict("refusal", 1.0 if refused else 0.0, not refused, label=label)]

        return judge


class BannedTermsParams(Params):
    terms: Annotated[list[Term], Field(min_length=1, max_length=512)]
    case_sensitive: StrictBool = False
    whole_words: StrictBool = True


class BannedTerms(Heuristic):
    """``banned_terms``: how many distinct configured terms the answer contains (passes at 0)."""

    kind = "banned_terms"
    version = "1"
    params = BannedTermsParams

    @classmethod
    def build(cls, params: BannedTermsParams) -> Callable[[Answer], list[Verdict]]:
        # One alternation of escaped literals, longest first: linear in the answer, no backtracking blow-up.
        alternation = "|".join(re.escape(t) for t in sorted(set(params.terms), key=len, reverse=True))
        body = rf"(?<!\w)(?:{alternation})(?!\w)" if params.whole_words else f"(?:{alternation})"
        pattern = re.compile(body, 0 if params.case_sensitive else re.IGNORECASE)

        def judge(answer: Answer) -> list[Verdict]:
            found = sorted(
                {m.group(0) if params.case_sensitive else m.group(0).lower() for m in pattern.finditer(answer.text)}
            )
            explanation = f"found: {', '.join(found)}"[:1000] if found else None
            label = "banned" if found else "clean"
            return [Verdict("banned_terms", float(len(found)), not found, label, explanation, score_max=None)]

        return judge
