"""Prompt chains that fail: refused before any step is sent (malformed, unknown prompt, missing variable, too
many steps, ``prompt`` and ``chain`` together), or failing at a step, which answers that step's own error and
is recorded as failed while the steps after it are never sent. Rate limits and the budget apply to each step.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from llmops_inference.adapters.registries import Registries
from llmops_inference.config import InferenceSettings
from llmops_inference.domain import UpstreamError, Usage
from llmops_inference.ports import BudgetDecision, CallContext
from llmops_schemas.v2 import CallRecorded

from tests.unit.inference.chain_support import (
    ADMIN,
    WRITER,
    calls,
    chain_body,
    chain_gateway,
    echo_backend,
    publish,
    step,
)
from tests.unit.inference.support import Harness, assert_openai_error

SUMMARY_STEP = step("summary", "summarise")
REPLY_V2_FOR_EVERYONE: dict[str, Any] = {
    "experiment_id": "reply-v2",
    "name": "reply v2 for everyone",
    "app": "default",
    "kind": "ab",
    "control": "v1",
    "variants": [
        {"name": "v1", "weight": 0, "prompt": {"name": "reply", "version": 1}},
        {"name": "v2", "weight": 1, "prompt": {"name": "reply", "version": 2}},
    ],
}


@pytest.mark.parametrize(
    ("body", "status", "code", "param", "message"),
    [
        (
            chain_body(step("1st", "summarise")),
            422,
            "invalid_chain",
            "chain.steps.0.output",
            "invalid chain: steps.0.output: String should match pattern",
        ),
        (
            chain_body(SUMMARY_STEP, SUMMARY_STEP),
            422,
            "invalid_chain",
            "chain",
            "invalid chain: (root): step outputs must be distinct: summary",
        ),
        (
            chain_body(*[step(f"s{n}", "summarise") for n in range(9)]),
            422,
            "invalid_chain",
            "chain.steps",
            "invalid chain: steps: at most 8 steps are allowed, not 9",
        ),
        (
            {**chain_body(SUMMARY_STEP), "prompt": {"name": "summarise"}},
            422,
            "invalid_chain",
            "chain",
            "give either 'prompt' or 'chain', not both",
        ),
        (
            chain_body(SUMMARY_STEP, step("answer", "nope")),
            404,
            "unknown_prompt",
            "chain.steps.1.prompt",
            "chain step 1 ('answer'): no prompt named 'nope'",
        ),
        (
            chain_body(SUMMARY_STEP, step("answer", "reply", label="qa")),
            404,
            "unknown_label",
            "chain.steps.1.prompt",
            "chain step 1 ('answer'): prompt 'reply' has no label 'qa' (its labels: production)",
        ),
        (
            chain_body(SUMMARY_STEP, step("answer", "reply", version=4)),
            404,
            "unknown_version",
            "chain.steps.1.prompt",
            "chain step 1 ('answer'): prompt 'reply' has no version 4 (versions are 1 to 1)",
        ),
        (
            chain_body(SUMMARY_STEP, step("final", "polish", variables={"draft": "d"})),
            422,
            "missing_variables",
            "chain.steps.1.prompt",
            "chain step 1 ('final'): prompt 'polish' version 1 needs variables: customer",
        ),
    ],
)
async def test_a_chain_is_refused_before_any_step_is_sent(
    chain_gw: Harness, body: dict[str, Any], status: int, code: str, param: str, message: str
) -> None:
    response = await chain_gw.client.post("/v1/chat/completions", json=body, headers=WRITER)

    error = assert_openai_error(response, status, code=code)
    assert error["param"] == param
    assert error["message"].startswith(message), error["message"]
    assert echo_backend(chain_gw).requests == []
    assert await calls(chain_gw) == []


async def test_a_step_that_cannot_be_rendered_is_named_and_the_steps_before_it_stay_recorded(chain_gw: Harness) -> None:
    picky = {"template": [{"role": "user", "content": "{{ summary.subject }}"}], "variables": [{"name": "summary"}]}
    await publish(chain_gw, "picky", {**picky, "labels": ["production"]})
    body = chain_body(SUMMARY_STEP, step("answer", "picky"))
    response = await chain_gw.client.post("/v1/chat/completions", json=body, headers=WRITER)

    error = assert_openai_error(response, 422, code="missing_variables")
    assert error["param"] == "chain.steps.1.prompt"
    assert error["message"].startswith("chain step 1 ('answer'): prompt 'picky' version 1, template[0]")
    first, refused = await calls(chain_gw)
    assert first.status == "ok" and first.metadata["chain_step"] == "0"
    assert_refused_step(refused, first, response.json()["error"], index=1, output="answer", status=422)
    assert len(echo_backend(chain_gw).requests) == 1, "the refused step is never sent"


def assert_refused_step(
    refused: CallRecorded, first: CallRecorded, error: dict[str, Any], *, index: int, output: str, status: int
) -> None:
    """``refused`` is the chain's step ``index``, recorded as failed with the error the caller got."""
    assert refused.status == "error" and refused.error is not None
    assert (refused.error.type, refused.error.code) == (error["type"], error["code"])
    assert refused.error.message == error["message"]
    assert refused.metadata["http_status"] == str(status)
    assert refused.tags == ["chain"] and refused.trace_id == first.trace_id
    assert refused.metadata["chain_id"] == first.metadata["chain_id"] != first.call_id
    assert (refused.metadata["chain_step"], refused.metadata["chain_steps"]) == (str(index), "2")
    assert refused.metadata["chain_output"] == output
    assert refused.output is None and refused.usage is None
    assert [(m.role, m.content) for m in refused.messages] == [("user", "")], "nothing was rendered"


async def test_a_step_over_the_prompt_size_limit_is_refused_and_recorded(make_harness: Callable[..., Any]) -> None:
    # Step 0 renders 22 characters; step 1, with step 0's answer, 43.
    async with chain_gateway(make_harness, InferenceSettings(max_prompt_chars=30)) as chain_gw:
        body = chain_body(SUMMARY_STEP, step("answer", "reply"))
        response = await chain_gw.client.post("/v1/chat/completions", json=body, headers=WRITER)

        error = assert_openai_error(response, 413, code="prompt_too_large")
        assert error["message"].startswith("chain step 1 ('answer'): the prompt has 43 characters")
        assert error["param"] == "chain.steps.1.messages", "the step's messages, not the request's"
        first, refused = await calls(chain_gw)
        assert_refused_step(refused, first, error, index=1, output="answer", status=413)
        assert len(echo_backend(chain_gw).requests) == 1


async def test_a_step_whose_experiment_arm_lacks_a_variable_is_refused_and_recorded_with_the_arm(
    chain_gw: Harness,
) -> None:
    # The chain is checked against 'reply' version 1 (the label); the arm swaps in version 2, which needs more.
    v2 = {
        "template": [{"role": "user", "content": "{{ summary }} in {{ language }}"}],
        "variables": [{"name": "summary"}, {"name": "language"}],
    }
    await publish(chain_gw, "reply", v2)
    created = await chain_gw.client.post("/v1/experiments", json=REPLY_V2_FOR_EVERYONE, headers=ADMIN)
    assert created.status_code == 201, created.text
    body = chain_body(SUMMARY_STEP, step("answer", "reply"), user="u-1")
    response = await chain_gw.client.post("/v1/chat/completions", json=body, headers=WRITER)

    error = assert_openai_error(response, 422, code="missing_variables")
    assert error["message"] == "chain step 1 ('answer'): prompt 'reply' version 2 needs variables: language"
    assert error["param"] == "chain.steps.1.prompt"
    first, refused = await calls(chain_gw)
    assert_refused_step(refused, first, error, index=1, output="answer", status=422)
    assert refused.experiment is not None
    assert (refused.experiment.experiment_id, refused.experiment.variant) == ("reply-v2", "v2")
    assert len(echo_backend(chain_gw).requests) == 1


async def test_a_failing_step_fails_the_request_with_its_own_error_and_is_recorded(chain_gw: Harness) -> None:
    echo_backend(chain_gw).failures.append(UpstreamError("status", "upstream exploded", status=500))
    body = chain_body(SUMMARY_STEP, step("answer", "reply"))
    response = await chain_gw.client.post("/v1/chat/completions", json=body, headers=WRITER)

    error = assert_openai_error(response, 502, code="bad_gateway")
    assert error["message"] == "the upstream of 'solo' failed: upstream exploded"
    assert len(echo_backend(chain_gw).requests) == 1, "the step after the failing one is never sent"
    (failed,) = await calls(chain_gw)
    assert failed.status == "error" and failed.error is not None and failed.error.code == "bad_gateway"
    assert (failed.metadata["chain_step"], failed.prompt and failed.prompt.name) == ("0", "summarise")


async def test_the_token_limit_applies_to_each_step(make_harness: Callable[..., Any]) -> None:
    async with chain_gateway(make_harness, InferenceSettings(tokens_per_minute=100)) as chain_gw:
        body = chain_body(SUMMARY_STEP, step("answer", "reply"), max_tokens=95)
        response = await chain_gw.client.post("/v1/chat/completions", json=body, headers=WRITER)

        error = assert_openai_error(response, 429, code="rate_limit_exceeded")
        assert error["type"] == "tokens" and response.headers["Retry-After"]
        first, refused = await calls(chain_gw)
        assert (first.status, refused.status) == ("ok", "error")
        assert refused.metadata["chain_step"] == "1" and refused.metadata["http_status"] == "429"
        assert len(echo_backend(chain_gw).requests) == 1


class _SecondCallOverBudget:
    def __init__(self) -> None:
        self.checks = 0
        self.charged: list[Usage | None] = []

    async def check(self, context: CallContext, model: str) -> BudgetDecision:
        self.checks += 1
        return BudgetDecision(allowed=self.checks < 2, message="monthly budget spent")

    async def charge(self, context: CallContext, model: str, usage: Usage | None) -> None:
        self.charged.append(usage)


async def test_the_budget_is_checked_and_charged_for_each_step(make_harness: Callable[..., Any]) -> None:
    budget = _SecondCallOverBudget()
    async with chain_gateway(make_harness, budget=budget) as chain_gw:
        body = chain_body(SUMMARY_STEP, step("answer", "reply"))
        response = await chain_gw.client.post("/v1/chat/completions", json=body, headers=WRITER)

        assert_openai_error(response, 429, code="budget_exceeded")
        first, refused = await calls(chain_gw)
        assert (first.status, refused.error and refused.error.code) == ("ok", "budget_exceeded")
    assert budget.checks == 2 and Usage(5, 7) in budget.charged


async def test_a_chain_on_text_completions_is_refused(chain_gw: Harness) -> None:
    body = {"model": "solo", "prompt": "Hi", "chain": {"steps": [SUMMARY_STEP]}}
    response = await chain_gw.client.post("/v1/completions", json=body, headers=WRITER)

    error = assert_openai_error(response, 400, code="unsupported")
    assert error["param"] == "chain"
    assert await calls(chain_gw) == []


async def test_a_chain_answers_503_with_retry_after_naming_the_chain_while_the_registry_loads(
    make_harness: Callable[..., Any],
) -> None:
    async with make_harness(registries=Registries()) as chain_gw:
        response = await chain_gw.client.post("/v1/chat/completions", json=chain_body(SUMMARY_STEP), headers=WRITER)

        error = assert_openai_error(response, 503, code="registry_unavailable")
        assert (error["type"], error["param"]) == ("server_error", "chain")
        assert response.headers["Retry-After"] == "1"
        assert await calls(chain_gw) == []
