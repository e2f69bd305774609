"""What every :class:`~llmops_evaluation.ports.JudgeGateway` does, run against the fake (unit) and against the
real adapter over the real gateway (tests/integration/model_server/test_judge_through_gateway.py).

The gateway under test serves the route ``ROUTE`` and holds prompt ``RUBRIC`` with version 1 labelled
``production`` (and nothing else of that name) for ``tenant``.
"""

from __future__ import annotations

from llmops_evaluation.ports import JudgeGateway

ROUTE, RUBRIC = "local-judge", "grader"


async def check_judge_gateway(gateway: JudgeGateway, tenant: str) -> None:
    assert ROUTE in await gateway.models(tenant)
    assert await gateway.prompt_version(tenant, RUBRIC, "production") == 1
    assert await gateway.prompt_version(tenant, RUBRIC, "latest") == 1
    assert await gateway.prompt_version(tenant, RUBRIC, "no-such-label") is None
    assert await gateway.prompt_version(tenant, "no-such-prompt", "production") is None
    assert await gateway.has_version(tenant, RUBRIC, 1)
    assert not await gateway.has_version(tenant, RUBRIC, 99)
    assert not await gateway.has_version(tenant, "no-such-prompt", 1)
    body = {
        "model": ROUTE,
        "messages": [],
        "prompt": {"name": RUBRIC, "version": 1, "variables": {"question": "Q?", "context": "", "answer": "A."}},
        "temperature": 0,
        "max_tokens": 32,
    }
    answer = await gateway.chat(tenant, body)
    assert isinstance(answer["choices"][0]["message"]["content"], str)
