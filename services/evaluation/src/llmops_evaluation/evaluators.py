"""Configured evaluators: a tenant's :class:`EvaluatorConfigured` record, validated and compiled once.

A score's evaluator version is the kind's code version and a digest of the parameters
(``<version>+<digest>``): changing a threshold or a pattern makes a new version, whose scores stand beside
the old ones instead of replacing them, and a redelivered call under the same configuration derives the
same score ids (docs/adr/0020).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from llmops_schemas.v1 import EvaluatorConfigured
from llmops_schemas.v2 import CallRecorded, EvaluatorRef
from pydantic import ValidationError

from llmops_evaluation.heuristics import KINDS, Answer, Heuristic, Verdict
from llmops_evaluation.judges import MODEL_KINDS, ModelJudge, ModelKind
from llmops_evaluation.judges.pairwise import PairwiseJudge, is_shadow_copy
from llmops_evaluation.semantic import SEMANTIC_KINDS
from llmops_evaluation.wire import wire_ref

__all__ = [
    "ConfigError",
    "Evaluator",
    "all_kinds",
    "build_evaluator",
    "params_digest",
    "sampled",
    "validate_params",
]


def all_kinds() -> dict[str, type[Heuristic]]:
    """Every kind a configuration may name: the heuristics, the model-backed judges and the semantic kinds (read
    when asked, so a test that plants a kind in one of the mappings is seen)."""
    return {**KINDS, **MODEL_KINDS, **SEMANTIC_KINDS}


_SAMPLE_BUCKETS = 1 << 32


class ConfigError(ValueError):
    """A configuration the service cannot run: unknown kind or invalid parameters (a 422 at the API)."""


def validate_params(kind: str, params: dict[str, Any]) -> Any:
    """The kind's parameter model of ``params``; :class:`ConfigError` with every problem in one message."""
    kinds = all_kinds()
    heuristic = kinds.get(kind)
    if heuristic is None:
        raise ConfigError(f"unknown evaluator kind {kind!r}; known: {', '.join(sorted(kinds))}")
    try:
        return heuristic.params.model_validate(params)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'params'}: {e['msg']}" for e in exc.errors(include_url=False)
        )
        raise ConfigError(f"invalid params for kind {kind!r}: {problems}") from None


def params_digest(params: dict[str, Any]) -> str:
    """A short, stable digest of the parameters as canonical JSON."""
    canonical = json.dumps(params, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()[:12]


def sampled(call_id: str, name: str, rate: float) -> bool:
    """Whether ``call_id`` falls in evaluator ``name``'s sample: the same answer on every replica and retry."""
    if rate >= 1.0:
        return True
    digest = hashlib.blake2b(f"{name}\x1f{call_id}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big") < rate * _SAMPLE_BUCKETS


@dataclass(frozen=True, slots=True)
class Evaluator:
    """One tenant's evaluator, ready to judge: its configuration, version, compiled judge and the reference its
    scores carry (built once: scoring is a hot path)."""

    config: EvaluatorConfigured
    heuristic: type[Heuristic]
    version: str
    judge: Callable[[Answer], list[Verdict]]
    ref: EvaluatorRef
    model: ModelJudge | None = None
    """The async judge of a model-backed kind (run by the model stage); None for a heuristic."""
    params: Any = None
    wire_ref: Any = field(init=False, repr=False, compare=False)
    """``ref`` as the derived struct the online scorer's items carry (:mod:`llmops_evaluation.wire`)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "wire_ref", wire_ref(self.ref))

    @property
    def model_backed(self) -> bool:
        """Whether it runs in the model stage (a judge) rather than the heuristic pass."""
        return self.model is not None

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def kind(self) -> str:
        return self.config.kind

    def applies_to(self, call: CallRecorded) -> bool:
        """Whether this evaluator scores ``call``: scope, origin, then the deterministic sample."""
        c = self.config
        return (
            c.enabled
            and call.app == c.app
            and (c.prompt_name is None or (call.prompt is not None and call.prompt.name == c.prompt_name))
            and (c.model is None or call.model == c.model)
            and (c.include_platform or call.origin != "platform")
            and self._takes(call)
            and sampled(call.call_id, c.name, c.sampling_rate)
        )

    def _takes(self, call: CallRecorded) -> bool:
        """A judge never scores platform traffic (its own calls are); a pairwise judge takes shadow copies only."""
        if not self.model_backed:
            return True
        return call.origin != "platform" and (self.heuristic is not PairwiseJudge or is_shadow_copy(call))


def build_evaluator(config: EvaluatorConfigured) -> Evaluator:
    """Validate and compile ``config``; :class:`ConfigError` when it cannot run."""
    params = validate_params(config.kind, dict(config.params))
    heuristic = all_kinds()[config.kind]
    version = f"{heuristic.version}+{params_digest(dict(config.params))}"
    if issubclass(heuristic, ModelKind):
        if config.include_platform:
            raise ConfigError("a judge never scores platform traffic (judge calls are): include_platform must be false")
        ref = _model_ref(heuristic, config.name, version, params)
        judge = heuristic.build(params)
        return Evaluator(config, heuristic, version, judge, ref, model=heuristic.build_model(params), params=params)
    ref = EvaluatorRef(name=config.name, version=version, kind=heuristic.evaluator_kind)
    return Evaluator(config=config, heuristic=heuristic, version=version, judge=heuristic.build(params), ref=ref)


def _model_ref(kind: type[ModelKind], name: str, version: str, params: Any) -> EvaluatorRef:
    """An LLM judge's reference names its model and rubric; a semantic evaluator's only its kind."""
    if kind.evaluator_kind != "llm_judge":
        return EvaluatorRef(name=name, version=version, kind=kind.evaluator_kind)
    model, prompt = kind.route_and_prompt(params)
    assert prompt is not None
    return EvaluatorRef(name=name, version=version, kind="llm_judge", judge_model=model, judge_prompt=prompt.name)
