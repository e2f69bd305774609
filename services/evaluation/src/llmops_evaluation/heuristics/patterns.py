"""``regex``: patterns the answer must and must not match, run by RE2 (linear time, no backtracking).

Python's ``re`` cannot be interrupted, and a tenant's pattern such as ``(a+)+$`` takes exponential time on
a crafted answer; RE2 guarantees time linear in the answer for every pattern it accepts (it refuses
backreferences and lookaround instead). Patterns are also capped in length and number, and RE2's program
size is capped, so one configuration cannot take the service's CPU or memory (docs/adr/0020).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import re2
from pydantic import Field, StringConstraints, field_validator, model_validator

from llmops_evaluation.heuristics.base import Answer, Heuristic, Params, Verdict

__all__ = ["MAX_PATTERN_CHARS", "Regex", "compile_pattern"]

MAX_PATTERN_CHARS = 512
_MAX_MEMORY = 8 << 20  # RE2's per-pattern memory budget (its default, stated so it is a decision)

Pattern = Annotated[str, StringConstraints(min_length=1, max_length=MAX_PATTERN_CHARS)]


def compile_pattern(pattern: str) -> Any:
    """The RE2 program of ``pattern``; ``ValueError`` naming the pattern when RE2 refuses it."""
    options = re2.Options()
    options.max_mem = _MAX_MEMORY
    try:
        return re2.compile(pattern, options)
    except re2.error as exc:
        raise ValueError(f"pattern {pattern!r} is not valid RE2 syntax: {exc}") from None


class RegexParams(Params):
    must: Annotated[list[Pattern], Field(max_length=16)] = Field(default_factory=list)
    must_not: Annotated[list[Pattern], Field(max_length=16)] = Field(default_factory=list)

    @field_validator("must", "must_not")
    @classmethod
    def _compiles(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            compile_pattern(pattern)
        return patterns

    @model_validator(mode="after")
    def _some(self) -> RegexParams:
        if not self.must and not self.must_not:
            raise ValueError("give at least one pattern in must or must_not")
        return self


class Regex(Heuristic):
    """``regex``: the share of rules the answer meets (1 when every must matches and no must-not does)."""

    kind = "regex"
    version = "1"
    params = RegexParams

    @classmethod
    def build(cls, params: RegexParams) -> Callable[[Answer], list[Verdict]]:
        must = [compile_pattern(p) for p in params.must]
        must_not = [compile_pattern(p) for p in params.must_not]
        total = len(must) + len(must_not)

        def judge(answer: Answer) -> list[Verdict]:
            # The UTF-8 bytes, encoded once: given a str, the RE2 binding encodes it again and maps every match's
            # offsets back to characters on each search (two thirds of its cost); only whether it matched counts.
            text = answer.text.encode()
            failed = [f"must[{i}] not found" for i, p in enumerate(must) if p.search(text) is None]
            failed += [f"must_not[{i}] matched" for i, p in enumerate(must_not) if p.search(text) is not None]
            score = (total - len(failed)) / total
            label = "pass" if not failed else "fail"
            return [Verdict("regex", score, not failed, label, "; ".join(failed) or None)]

        return judge
