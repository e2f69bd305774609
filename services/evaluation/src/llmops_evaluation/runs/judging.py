"""What a run sends for an example and how its answer becomes a score event: the gateway request, the run's
evaluators compiled from their snapshot, and one ``llmops.evaluation.scored.v2`` per answer."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from llmops_schemas.envelope import CloudEvent
from llmops_schemas.ids import deterministic_uuid7
from llmops_schemas.v1 import EvaluatorConfigured
from llmops_schemas.v1.runs import DatasetExampleAdded, RunUpdated, RunVariant
from llmops_schemas.v2 import EvaluationScored, ScoreItem

from llmops_evaluation.evaluators import Evaluator, build_evaluator
from llmops_evaluation.handlers import judge_isolated
from llmops_evaluation.heuristics import Answer

__all__ = ["RUNS_APP", "evaluators_of", "output_of", "request_body", "scored_event"]

RUNS_APP = "offline-runs"
"""The ``app`` of run scores and of the evaluators compiled for runs."""


def request_body(variant: RunVariant, example: DatasetExampleAdded) -> dict[str, Any]:
    """The chat request of one example: the prompt version rendered with its variables, or the input as is."""
    body: dict[str, Any] = {**variant.parameters, "stream": False}
    if variant.model is not None:
        body["model"] = variant.model
    if variant.prompt_name is None:
        body["messages"] = [{"role": "user", "content": example.input}]
        return body
    prompt: dict[str, Any] = {
        "name": variant.prompt_name,
        "variables": {**example.variables, variant.input_variable: example.input},
    }
    if variant.prompt_version is not None:
        prompt["version"] = variant.prompt_version
    body["prompt"] = prompt
    return body


def evaluators_of(run: RunUpdated) -> list[Evaluator]:
    """The run's evaluator snapshot compiled (the same versions on every resume)."""
    return [
        build_evaluator(
            EvaluatorConfigured(name=e.name, kind=e.kind, params=e.params, app=RUNS_APP, updated_at=run.created_at)
        )
        for e in run.evaluators
    ]


def output_of(answer: dict[str, Any]) -> tuple[str | None, bool]:
    """The first choice's text (its refusal when the model refused) and whether it refused; raises
    ``AttributeError``, ``IndexError`` or the like for a body that is not a chat completion."""
    choices = answer.get("choices") or [{}]
    message = choices[0].get("message") or {}
    refusal = message.get("refusal")
    return (refusal or message.get("content")), bool(refusal)


def scored_event(
    tenant: str,
    run: RunUpdated,
    example: DatasetExampleAdded,
    call_id: str,
    answer: Answer,
    evaluators: list[Evaluator],
    *,
    budget_s: float,
    source: str,
    judged_at: datetime,
    model_items: Sequence[ScoreItem] = (),
) -> CloudEvent[EvaluationScored] | None:
    """The scores of one example's answer as one event (None when no evaluator produced an item).

    Ids derive from tenant, run, example (and evaluator name, version, metric); the event time is the run's
    creation: a chunk redone after a restart yields the same events.
    """
    at_ms = int(run.created_at.timestamp() * 1000)
    subject = f"example {example.example_id} of run {run.run_id}"
    items = [*model_items] + [  # the model-backed evaluators' items come scored already (runs.model_scoring)
        item
        for evaluator in evaluators
        if not evaluator.model_backed
        for item in judge_isolated(
            evaluator,
            answer,
            budget_s,
            subject,
            lambda metric, e=evaluator: deterministic_uuid7(  # type: ignore[misc]
                at_ms, tenant, run.run_id, example.example_id, e.name, e.version, metric
            ),
        )
    ]
    if not items:
        return None
    event_id = deterministic_uuid7(at_ms, tenant, run.run_id, example.example_id, "pass")
    payload = EvaluationScored(
        evaluation_id=event_id,
        call_id=call_id or f"{run.run_id}.{example.example_id}",
        app=RUNS_APP,
        run_id=run.run_id,
        example_id=example.example_id,
        scores=items,
        judged_at=judged_at,
    )
    event = CloudEvent.wrap(payload, source=source, tenant_id=tenant, event_id=event_id, subject=run.run_id)
    return event.model_copy(update={"time": run.created_at})
