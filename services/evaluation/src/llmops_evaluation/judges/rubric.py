"""One judge call: the rubric prompt, rendered by the gateway with the judged texts, sent to the judge route.

The request names the prompt by ``name`` and *version* in the gateway's ``prompt`` extension field, so the
gateway renders it (sandboxed, as for any application) and records the judge call with that prompt version;
a rubric followed by ``label`` is first resolved to the version the label points at, so the score always
names the version that produced it. Sampling is greedy (``temperature`` 0): a judge should not roll dice.

``cost_usd`` is the gateway's ``usage.cost`` when the answer carries one (OpenRouter-style upstreams
report it); the platform's gateway reports none yet, so it is None until the cost service prices calls.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from llmops_evaluation.judges.kinds import JudgeInput, RubricParams
from llmops_evaluation.ports import JudgeGateway

__all__ = ["RubricAnswer", "UnknownRubric", "ask_judge"]


class UnknownRubric(LookupError):
    """The rubric's label points nowhere (the prompt or the label was removed since the evaluator was set)."""


@dataclass(frozen=True, slots=True)
class RubricAnswer:
    """The judge's text (None: it answered no text), the rubric version used, and what the call cost."""

    text: str | None
    prompt_version: int
    latency_ms: float
    cost_usd: float | None


async def rubric_version(gateway: JudgeGateway, tenant: str, params: RubricParams) -> int:
    """The rubric prompt's version: pinned, or where its label points now."""
    prompt = params.prompt
    if prompt.version is not None:
        return prompt.version
    assert prompt.label is not None  # RubricPrompt holds one of them
    version = await gateway.prompt_version(tenant, prompt.name, prompt.label)
    if version is None:
        raise UnknownRubric(f"the rubric prompt {prompt.name!r} has no label {prompt.label!r}")
    return version


async def ask_judge(
    gateway: JudgeGateway, job: JudgeInput, params: RubricParams, variables: dict[str, Any], version: int
) -> RubricAnswer:
    """Send the rubric (``version``) rendered with ``variables`` to the judge route; its answer."""
    body = {
        "model": params.model,
        "messages": [],
        "prompt": {"name": params.prompt.name, "version": version, "variables": variables},
        "temperature": 0,
        "max_tokens": params.max_tokens,
        "metadata": {"llmops_evaluator": job.evaluator[:512], "llmops_judged_call": job.call.call_id},
    }
    started = time.perf_counter()
    answer = await gateway.chat(job.tenant, body)
    latency_ms = (time.perf_counter() - started) * 1000
    return RubricAnswer(_text(answer), version, latency_ms, _cost(answer))


def _text(answer: dict[str, Any]) -> str | None:
    choices = answer.get("choices") or []
    if not choices or not isinstance(choices[0], dict):
        return None
    message = choices[0].get("message") or {}
    content = message.get("content") if isinstance(message, dict) else None
    return content if isinstance(content, str) else None


def _cost(answer: dict[str, Any]) -> float | None:
    usage = answer.get("usage")
    cost = usage.get("cost") if isinstance(usage, dict) else None
    if isinstance(cost, int | float) and not isinstance(cost, bool) and cost >= 0:
        return float(cost)
    return None
