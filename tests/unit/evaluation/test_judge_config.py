"""Setting a judge through the real routes: its route and rubric are checked with the gateway (fake) when written."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from llmops_evaluation.bootstrap import EvaluationPorts, create_app
from llmops_evaluation.config import EvaluationSettings
from llmops_evaluation.ports import JudgePorts
from llmops_evaluation.store import EvaluatorStore
from llmops_kit.kafka.publisher import InMemoryPublisher
from llmops_kit.platform_client import PlatformCallError
from llmops_schemas.v1 import EvaluatorConfigured

from tests.unit.evaluation.judge_gateway_contract import ROUTE, RUBRIC, check_judge_gateway
from tests.unit.evaluation.judges import FakeGateway
from tests.unit.evaluation.test_http import ADMIN, KEYS, auth

JUDGE = {
    "kind": "llm_judge",
    "app": "support-bot",
    "params": {"model": "judge", "prompt": {"name": "rubric", "label": "production"}},
}


def client_of(gateway: FakeGateway | None) -> tuple[httpx.AsyncClient, InMemoryPublisher]:
    store = EvaluatorStore()
    store.mark_caught_up()
    publisher = InMemoryPublisher()
    ports = EvaluationPorts(publisher, KEYS, store, JudgePorts(gateway) if gateway else None)
    app = create_app(EvaluationSettings(), ports=ports)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://evaluation"), publisher


async def test_a_judge_whose_route_and_rubric_exist_is_set() -> None:
    client, publisher = client_of(FakeGateway())
    async with client:
        created = await client.put("/v1/evaluators/helpful", json=JUDGE, headers=auth(ADMIN))
        pinned = {**JUDGE, "params": {**JUDGE["params"], "prompt": {"name": "rubric", "version": 1}}}  # type: ignore[dict-item]
        assert (await client.put("/v1/evaluators/pinned", json=pinned, headers=auth(ADMIN))).status_code == 201
    assert created.status_code == 201, created.text
    assert [c.name for c in publisher.of(EvaluatorConfigured)] == ["helpful", "pinned"]


def with_params(**params: Any) -> dict[str, Any]:
    return {**JUDGE, "params": {**JUDGE["params"], **params}}  # type: ignore[dict-item]


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (with_params(model="gpt-9"), "params.model: the gateway has no model 'gpt-9' (its models: judge)"),
        (with_params(prompt={"name": "nope", "version": 1}), "the rubric prompt 'nope' has no version 1"),
        (with_params(prompt={"name": "rubric", "version": 7}), "the rubric prompt 'rubric' has no version 7"),
        (with_params(prompt={"name": "rubric", "label": "qa"}), "the rubric prompt 'rubric' has no label 'qa'"),
        (with_params(prompt={"name": "rubric"}), "give the rubric prompt's version or its label"),
        (with_params(scale_min=5, scale_max=1), "scale_min must be below scale_max"),
        (with_params(pass_threshold=9), "pass_threshold must be on the scale"),
        ({**JUDGE, "include_platform": True}, "a judge never scores platform traffic"),
        ({**JUDGE, "params": {"prompt": {"name": "rubric", "version": 1}}}, "model: Field required"),
    ],
)
async def test_a_judge_naming_what_does_not_exist_is_422(body: dict[str, Any], detail: str) -> None:
    client, publisher = client_of(FakeGateway())
    async with client:
        response = await client.put("/v1/evaluators/helpful", json=body, headers=auth(ADMIN))
    assert response.status_code == 422, response.text
    assert detail in response.json()["detail"]
    assert publisher.events == []


async def test_without_a_gateway_key_a_judge_is_422_and_with_the_gateway_down_503() -> None:
    client, _ = client_of(None)
    async with client:
        response = await client.put("/v1/evaluators/helpful", json=JUDGE, headers=auth(ADMIN))
    assert response.status_code == 422 and "LLMOPS_GATEWAY_URL and LLMOPS_SERVICE_KEY" in response.json()["detail"]
    client, publisher = client_of(FakeGateway(fail=PlatformCallError("gateway", 0, "ConnectError")))
    async with client:
        response = await client.put("/v1/evaluators/helpful", json=JUDGE, headers=auth(ADMIN))
    assert response.status_code == 503 and response.json()["retry_after"] == 5
    assert "gateway unreachable: ConnectError" in response.json()["detail"]
    assert publisher.events == []


async def test_the_fake_gateway_keeps_the_contract_of_the_real_one() -> None:
    fake = FakeGateway(models_served=[ROUTE], prompts={RUBRIC: {"production": 1}}, versions={RUBRIC: [1]})
    await check_judge_gateway(fake, "acme")
