"""The experiments seam over the materialised :class:`~llmops_inference.experiments.store.ExperimentStore`.

Per call, :func:`~llmops_inference.experiments.resolve.choose_variant` picks the running experiment that takes
it (by the prompt the request names, else its model, and the ``X-LLMOps-App``), sticky per user (else session).
The primary variant's model, prompt version and parameters are swapped into the request; a shadow variant
becomes a :class:`~llmops_inference.ports.ShadowCall` whose answer is recorded, never returned. No I/O, and
never an error: while the store loads, or when nothing matches, the call goes where it asked.
"""

from __future__ import annotations

from typing import Any

from llmops_inference.api_models import PROMPT_FIELD, SAMPLING_FIELDS, ChatCompletionRequest, copy_with
from llmops_inference.experiments.model import AssignedVariant
from llmops_inference.experiments.resolve import choose_variant
from llmops_inference.experiments.store import ExperimentStore
from llmops_inference.ports import CallContext, ExperimentPlan, ShadowCall

__all__ = ["ExperimentChooser", "apply_variant"]


class ExperimentChooser:
    """A :class:`~llmops_inference.ports.VariantChooser` driven by the experiments topic."""

    def __init__(self, store: ExperimentStore) -> None:
        self.store = store

    async def choose(self, request: ChatCompletionRequest, context: CallContext) -> ExperimentPlan:
        assignment = choose_variant(
            self.store,
            context.tenant_id,
            request.model,
            prompt_name(request),
            context.user_id,
            context.session_id,
            app=context.app,
        )
        if assignment is None:
            return ExperimentPlan(request=request)
        shadows: tuple[ShadowCall, ...] = ()
        if assignment.shadow is not None:
            experiment = assignment.shadow.ref.model_copy(update={"shadow": True})
            shadows = (ShadowCall(request=apply_variant(request, assignment.shadow), experiment=experiment),)
        return ExperimentPlan(
            request=apply_variant(request, assignment.primary), experiment=assignment.primary.ref, shadows=shadows
        )


def prompt_name(request: ChatCompletionRequest) -> str | None:
    """The name in the request's ``prompt`` field, if it has a well-formed one."""
    data = (request.model_extra or {}).get(PROMPT_FIELD)
    name = data.get("name") if isinstance(data, dict) else None
    return name if isinstance(name, str) else None


def apply_variant(request: ChatCompletionRequest, variant: AssignedVariant) -> ChatCompletionRequest:
    """The request as the variant sends it: its model, prompt version and parameters (where it sets them)."""
    update: dict[str, Any] = {}
    if variant.model:
        update["model"] = variant.model
    if variant.parameters is not None:
        for name in SAMPLING_FIELDS:
            value = getattr(variant.parameters, name)
            if value is not None:
                update[name] = value
        if "max_tokens" in update:
            update["max_completion_tokens"] = None
    if variant.prompt is None:
        return copy_with(request, fields=update)
    data = (request.model_extra or {}).get(PROMPT_FIELD)
    variables = data.get("variables", {}) if isinstance(data, dict) else {}
    selector = {"name": variant.prompt.name, "version": variant.prompt.version, "variables": variables}
    return copy_with(request, fields=update, extensions={PROMPT_FIELD: selector})
