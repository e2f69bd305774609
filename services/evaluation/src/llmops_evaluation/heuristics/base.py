"""What every heuristic shares: the answer it judges, the verdicts it returns, its bounded parameters."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from llmops_schemas.v2.evaluation import EvaluatorKind
from pydantic import BaseModel, ConfigDict

__all__ = ["Answer", "Heuristic", "Params", "Verdict"]


@dataclass(frozen=True, slots=True)
class Answer:
    """The text a heuristic judges: the call's answer, at most the service's cap, always valid UTF-8.

    ``length`` is the whole answer's length in characters, ``text`` its first characters up to the cap
    (``truncated`` says whether that is all of it). ``refused`` is the model's own refusal flag (a
    ``refusal`` on the choice), which refusal detection trusts before any phrase.

    What the answer is judged against, where known: ``prompt`` is the question it answers (the last user
    message of a call, a dataset example's input), ``reference`` the expected answer (a dataset example's),
    ``context`` the passages it should be grounded in. Evaluators that need one and lack it yield no score.
    """

    text: str
    length: int
    truncated: bool = False
    refused: bool = False
    prompt: str | None = None
    reference: str | None = None
    context: tuple[str, ...] = ()

    @classmethod
    def of(cls, output: str | None, *, cap: int, refused: bool = False, prompt: str | None = None) -> Answer:
        """The answer of ``output`` (None: empty), cut to ``cap`` characters, to ``prompt``.

        The text is valid Unicode: the call event's schema refuses lone surrogates (what ``\\udc80`` in JSON
        decodes to), and a record that is not UTF-8 never becomes an event (the scorer dead-letters it).
        """
        whole = output or ""
        text = whole[:cap]
        return cls(text=text, length=len(whole), truncated=len(whole) > cap, refused=refused, prompt=prompt)


@dataclass(frozen=True, slots=True)
class Verdict:
    """One metric's result: one ``ScoreItem`` of the call's ``llmops.evaluation.scored.v2``."""

    metric: str
    score: float
    passed: bool | None
    label: str | None = None
    explanation: str | None = None
    score_min: float | None = 0.0
    score_max: float | None = 1.0


class Params(BaseModel):
    """A heuristic's parameters: strict, every list and string bounded (validated before publishing)."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Heuristic:
    """A built-in evaluator kind: ``kind`` and ``version`` name it, ``params`` validates its settings.

    ``build(params)`` returns the judging function, compiled once per configuration (patterns, schema
    validators), so judging a call costs only the check itself. It returns no verdict when the answer lacks
    what the kind needs (a reference, a prompt whose language can be told). ``evaluator_kind`` is what its
    scores' ``EvaluatorRef.kind`` says: ``heuristic`` judges the answer alone, ``reference`` against an
    expected answer.
    """

    kind: ClassVar[str]
    evaluator_kind: ClassVar[EvaluatorKind] = "heuristic"
    version: ClassVar[str]
    params: ClassVar[type[Params]]

    @classmethod
    def build(cls, params: Any) -> Callable[[Answer], list[Verdict]]:
        raise NotImplementedError
