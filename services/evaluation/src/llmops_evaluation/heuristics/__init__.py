"""The built-in heuristic evaluators, by kind (issue 9 §1); :data:`KINDS` is what a configuration may name.

Language detection of the answer against the prompt is not among them yet (docs/adr/0020).
"""

from __future__ import annotations

from collections.abc import Mapping

from llmops_evaluation.heuristics.base import Answer, Heuristic, Params, Verdict
from llmops_evaluation.heuristics.patterns import Regex
from llmops_evaluation.heuristics.secrets import Secrets
from llmops_evaluation.heuristics.structured import Json
from llmops_evaluation.heuristics.text import BannedTerms, Length, Refusal

__all__ = ["KINDS", "Answer", "Heuristic", "Params", "Verdict"]

KINDS: Mapping[str, type[Heuristic]] = {h.kind: h for h in (Length, Json, Regex, Refusal, BannedTerms, Secrets)}
"""Every evaluator kind by name."""
