"""Model-backed evaluators (issue 9 §1, LLM-as-judge): judges that ask a model through the gateway.

:data:`MODEL_KINDS` is what a configuration may name beside the heuristics; they run in the model stage
(:mod:`llmops_evaluation.model_stage`), never in the heuristic pass.
"""

from __future__ import annotations

from collections.abc import Mapping

from llmops_evaluation.judges.kinds import JudgeInput, Judgment, ModelJudge, ModelKind
from llmops_evaluation.judges.pairwise import PairwiseJudge
from llmops_evaluation.judges.pointwise import LlmJudge

__all__ = ["MODEL_KINDS", "JudgeInput", "Judgment", "ModelJudge", "ModelKind"]

MODEL_KINDS: Mapping[str, type[ModelKind]] = {k.kind: k for k in (LlmJudge, PairwiseJudge)}
"""Every model-backed kind by name."""
