"""What a judge's configuration names is checked against the gateway when it is written: its route and its
rubric prompt (422 naming what is missing), so a typo is refused at once rather than recorded as failures.

The gateway is asked with the service key for the tenant the configuration belongs to. When it cannot be
asked (down, or this replica has no key for it) the write is refused with 503 or 422: a judge that could
never run is not stored. What changes later (a route removed, a label deleted) is recorded per call as an
``error`` item naming it.
"""

from __future__ import annotations

from llmops_kit.http.problems import ProblemError
from llmops_kit.platform_client import PlatformCallError

from llmops_evaluation.evaluators import Evaluator
from llmops_evaluation.judges.kinds import ModelKind
from llmops_evaluation.ports import JudgeGateway

__all__ = ["JudgeChecks"]

_SHOWN_MODELS = 20


class JudgeChecks:
    """Checks a model-backed evaluator's route and rubric with the gateway (``gateway`` None: none can be set)."""

    def __init__(self, gateway: JudgeGateway | None, *, retry_after_s: int = 5) -> None:
        self._gateway = gateway
        self._retry_after_s = retry_after_s

    async def check(self, tenant: str, evaluator: Evaluator) -> None:
        """Nothing for a heuristic; for a judge, 422 when its route or rubric does not exist, 503 when the
        gateway cannot tell."""
        if not evaluator.model_backed or not issubclass(evaluator.heuristic, ModelKind):
            return
        if self._gateway is None:
            raise _invalid("judges need the gateway: this service has no LLMOPS_GATEWAY_URL and LLMOPS_SERVICE_KEY")
        model, prompt = evaluator.heuristic.route_and_prompt(evaluator.params)
        try:
            models = await self._gateway.models(tenant)
            if prompt is None:
                found, what = True, ""
            elif prompt.version is not None:
                found = await self._gateway.has_version(tenant, prompt.name, prompt.version)
                what = f"version {prompt.version}"
            else:
                assert prompt.label is not None
                found = await self._gateway.prompt_version(tenant, prompt.name, prompt.label) is not None
                what = f"label {prompt.label!r}"
        except PlatformCallError as exc:
            detail = f"the gateway could not check the judge's route and rubric: {exc}"
            raise ProblemError(503, "Service Unavailable", detail, retry_after=self._retry_after_s) from None
        if model not in models:
            shown = ", ".join(sorted(models)[:_SHOWN_MODELS]) or "none"
            raise _invalid(f"params.model: the gateway has no model {model!r} (its models: {shown})")
        if not found and prompt is not None:
            raise _invalid(f"params.prompt: the rubric prompt {prompt.name!r} has no {what} in the prompt registry")


def _invalid(detail: str) -> ProblemError:
    return ProblemError(422, "Unprocessable Content", detail)
