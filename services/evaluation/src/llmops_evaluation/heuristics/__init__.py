"""The built-in synchronous evaluators, by kind (issue 9 §1); :data:`KINDS` is what a configuration may name.

Heuristics judge the answer alone (``language`` against the prompt's language); the reference-based kinds
judge it against an expected answer (docs/adr/0026).
"""

from __future__ import annotations

from collections.abc import Mapping

from llmops_evaluation.heuristics.base import Answer, Heuristic, Params, Verdict
from llmops_evaluation.heuristics.language import Language
from llmops_evaluation.heuristics.patterns import Regex
from llmops_evaluation.heuristics.reference import Bleu, ExactMatch, NormalizedMatch, RougeL, TokenF1
from llmops_evaluation.heuristics.secrets import Secrets
from llmops_evaluation.heuristics.structured import Json
from llmops_evaluation.heuristics.text import BannedTerms, Length, Refusal

__all__ = ["KINDS", "Answer", "Heuristic", "Params", "Verdict"]

KINDS: Mapping[str, type[Heuristic]] = {
    h.kind: h
    for h in (
        *(Length, Json, Regex, Refusal, BannedTerms, Secrets, Language),
        *(ExactMatch, NormalizedMatch, TokenF1, RougeL, Bleu),
    )
}
"""Every evaluator kind by name."""
