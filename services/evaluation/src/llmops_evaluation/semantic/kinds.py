"""The semantic kinds: ``similarity`` to the reference, ``groundedness`` (and ``hallucination``) in the context."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import Field, StrictBool

from llmops_evaluation.heuristics.base import Answer, Params, Verdict
from llmops_evaluation.judges.kinds import JudgeInput, Judgment, ModelJudge, ModelKind
from llmops_evaluation.ports import JudgePorts
from llmops_evaluation.semantic.base import Embedder
from llmops_evaluation.semantic.gateway import DEFAULT_EMBEDDING_MODEL
from llmops_evaluation.semantic.grounding import Support, cosines, support
from llmops_evaluation.semantic.sentences import split_sentences

__all__ = ["Groundedness", "NoEmbedder", "SemanticJudge", "SemanticKind", "SemanticParams", "Similarity"]

SemanticJudge = Callable[[Answer, Embedder], Awaitable[list[Verdict]]]
"""An async judge: the answer (with its reference or context) and the embedder it may await."""

MAX_LISTED = 8
"""Unsupported sentences quoted in a hallucination's explanation (the rest are counted)."""
_QUOTE_CHARS = 160
DEFAULT_SUPPORT_THRESHOLD = 0.65
"""The cosine at which a context sentence supports an answer sentence, for all-MiniLM-L6-v2: the median of the
thresholds 4-fold cross-validation chose on the labelled set (docs/benchmarks.md, "Groundedness")."""


class SemanticParams(Params):
    """What every semantic kind names: the gateway's embedding model (route) and how long to wait for it."""

    model: str = Field(
        default=DEFAULT_EMBEDDING_MODEL, min_length=1, max_length=256, description="The gateway's embedding model"
    )
    timeout_s: float = Field(strict=True, default=10.0, gt=0, le=120, description="Longest wait for the embeddings")


class SemanticKind(ModelKind):
    """A built-in evaluator kind judged through embeddings: ``build_semantic`` gives its async judge of an answer
    and an embedder; it runs in the model stage (bounded, timed out, failures recorded) with the embedder the
    stage's ports give for the call's tenant, and its scores say ``kind: semantic``."""

    evaluator_kind = "semantic"

    @classmethod
    def build_semantic(cls, params: Any) -> SemanticJudge:
        raise NotImplementedError

    @classmethod
    def route_and_prompt(cls, params: Any) -> tuple[str, None]:
        return params.model, None

    @classmethod
    def build_model(cls, params: Any) -> ModelJudge:
        judge = cls.build_semantic(params)

        async def run(job: JudgeInput, ports: JudgePorts) -> list[Judgment]:
            if ports.embedder is None:
                raise NoEmbedder("no embedder: this service has no gateway URL and service key")
            verdicts = await judge(job.answer, ports.embedder(job.tenant, params.model))
            return [_judgment(v) for v in verdicts]

        return run


class NoEmbedder(RuntimeError):
    """The service was started without the gateway, so semantic evaluators cannot run (an ``error`` item)."""


def _judgment(verdict: Verdict) -> Judgment:
    return Judgment(
        metric=verdict.metric,
        score=verdict.score,
        score_min=verdict.score_min,
        score_max=verdict.score_max,
        label=verdict.label,
        passed=verdict.passed,
        explanation=verdict.explanation,
    )


class SimilarityParams(SemanticParams):
    min_similarity: float = Field(strict=True, default=0.8, ge=-1, le=1, description="Passes at or above this cosine")
    max_chars: int = Field(strict=True, default=2000, ge=16, le=20_000, description="Characters of each text embedded")


class Similarity(SemanticKind):
    """``similarity``: cosine of the answer's and the reference's embeddings (-1..1)."""

    kind = "similarity"
    version = "1"
    params = SimilarityParams

    @classmethod
    def build_semantic(cls, params: SimilarityParams) -> SemanticJudge:
        async def judge(answer: Answer, embedder: Embedder) -> list[Verdict]:
            reference = answer.reference
            if not reference or not reference.strip():
                return []
            if not answer.text.strip():
                return [_similarity(0.0, params, "the answer is empty")]
            cut = params.max_chars
            answered, expected = await embedder.embed([answer.text[:cut], reference[:cut]])
            score = float(cosines([answered], [expected])[0, 0])
            return [_similarity(score, params, None)]

        return judge


def _similarity(score: float, params: SimilarityParams, why: str | None) -> Verdict:
    passed = score >= params.min_similarity
    return Verdict("similarity", score, passed, "similar" if passed else "dissimilar", why, score_min=-1.0)


class GroundednessParams(SemanticParams):
    threshold: float = Field(
        strict=True,
        default=DEFAULT_SUPPORT_THRESHOLD,
        ge=-1,
        le=1,
        description="Cosine at which a context sentence supports one",
    )
    min_groundedness: float = Field(
        strict=True, default=1.0, ge=0, le=1, description="Passes at or above this supported share"
    )
    check_numbers: StrictBool = Field(default=True, description="A number absent from the context is unsupported")
    check_negation: StrictBool = Field(default=True, description="A negation the closest context sentence lacks is too")
    max_sentences: int = Field(
        strict=True, default=32, ge=1, le=64, description="Answer sentences judged (the first ones)"
    )
    max_context_sentences: int = Field(
        strict=True, default=256, ge=1, le=256, description="Context sentences compared with"
    )
    max_sentence_chars: int = Field(
        strict=True, default=1000, ge=16, le=4000, description="Characters of one sentence embedded"
    )


class Groundedness(SemanticKind):
    """``groundedness`` (share of answer sentences the context supports) and ``hallucination`` (how many it
    does not, named in the explanation)."""

    kind = "groundedness"
    version = "1"
    params = GroundednessParams

    @classmethod
    def build_semantic(cls, params: GroundednessParams) -> SemanticJudge:
        async def judge(answer: Answer, embedder: Embedder) -> list[Verdict]:
            cut = params.max_sentence_chars
            premises = [s[:cut] for passage in answer.context for s in split_sentences(passage)]
            sentences = [s[:cut] for s in split_sentences(answer.text)]
            if not premises or not sentences:
                return []
            judged = await support(
                sentences[: params.max_sentences],
                premises[: params.max_context_sentences],
                embedder,
                threshold=params.threshold,
                check_numbers=params.check_numbers,
                check_negation=params.check_negation,
            )
            skipped = len(sentences) - len(judged)
            return [_groundedness(judged, skipped, params), _hallucination(judged)]

        return judge


def _groundedness(judged: list[Support], skipped: int, params: GroundednessParams) -> Verdict:
    supported = sum(1 for s in judged if s.supported)
    share = supported / len(judged)
    label = "grounded" if supported == len(judged) else "ungrounded" if supported == 0 else "partly_grounded"
    why = f"{supported} of {len(judged)} sentences supported"
    if skipped:
        why += f" (the first {len(judged)} judged, {skipped} more not)"
    return Verdict("groundedness", share, share >= params.min_groundedness, label, why)


def _hallucination(judged: list[Support]) -> Verdict:
    """The count of unsupported sentences; the explanation quotes the first :data:`MAX_LISTED` with reasons."""
    unsupported = [(i, s) for i, s in enumerate(judged, start=1) if not s.supported]
    listed = [f'[{i}] "{_quote(s.sentence)}": {s.reason}' for i, s in unsupported[:MAX_LISTED]]
    if len(unsupported) > MAX_LISTED:
        listed.append(f"and {len(unsupported) - MAX_LISTED} more")
    label = "hallucination" if unsupported else "none"
    return Verdict(
        "hallucination", float(len(unsupported)), not unsupported, label, "; ".join(listed) or None, score_max=None
    )


def _quote(sentence: str) -> str:
    return sentence if len(sentence) <= _QUOTE_CHARS else sentence[: _QUOTE_CHARS - 1] + "\u2026"
