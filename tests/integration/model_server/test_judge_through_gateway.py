"""The whole judge path on the real model server: a rubric from the prompt registry, rendered by the gateway,
sent to Triton's ``judge``, its text answer parsed by the evaluation service's model stage into a score.

The gateway (its app under uvicorn, recording to the session broker) routes ``local-judge`` to the session's
model server, as ``llmops up`` does; the model stage talks to it through the kit's platform client with a
service key, like the evaluation service.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from llmops_evaluation.evaluators import build_evaluator
from llmops_evaluation.handlers import ScoringRules
from llmops_evaluation.judges.adapters import GatewayJudges
from llmops_evaluation.model_stage import ModelStage
from llmops_evaluation.ports import JudgePorts
from llmops_evaluation.store import EvaluatorStore
from llmops_kit.auth import ANY_TENANT, hash_key
from llmops_kit.kafka.publisher import InMemoryPublisher
from llmops_kit.platform_client import GatewayClient, PlatformClient
from llmops_schemas.v2 import EvaluationScored

from tests.fixtures.gateway import serve_gateway
from tests.integration.model_server.conftest import ModelServer
from tests.unit.evaluation.calls import call, configured
from tests.unit.evaluation.judge_gateway_contract import check_judge_gateway

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(300)]

ADMIN = "llmops_it_triton_judge_admin_" + uuid.uuid4().hex
SERVICE = "llmops_it_triton_judge_service_" + uuid.uuid4().hex
TENANT = f"it-tj-{uuid.uuid4().hex[:8]}"
RUBRIC = {
    "template": [
        {
            "role": "user",
            "content": "Grade the answer from 1 to 5.\n<question>{{ question }}</question>\n"
            "<context>{{ context }}</context>\n<answer>{{ answer }}</answer>",
        }
    ],
    "variables": [{"name": "question"}, {"name": "context"}, {"name": "answer"}],
    "labels": ["production"],
}
MESSAGES = [
    {"role": "system", "content": "Parcels leave the depot every morning at nine."},
    {"role": "user", "content": "When does my parcel leave the depot?"},
]


@pytest.fixture(scope="module")
def gateway(kafka_bootstrap: str, model_server: ModelServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    keys = (
        f"keys:\n  - {{id: it-admin, tenant_id: {TENANT}, role: admin, sha256: {hash_key(ADMIN)}}}\n"
        f"  - {{id: it-service, tenant_id: '{ANY_TENANT}', role: service, sha256: {hash_key(SERVICE)}}}\n"
    )
    routes = (
        f"upstreams:\n  - {{name: triton, base_url: 'grpc://{model_server.grpc}'}}\n"
        "models:\n  local-judge: [{backend: triton, upstream: triton, model: judge, timeout_s: 60}]\n"
    )
    folder = tmp_path_factory.mktemp("gateway-triton-judge")
    with serve_gateway(kafka_bootstrap, folder, keys=keys, key=ADMIN, routes=routes) as url:
        response = httpx.post(
            f"{url}/v1/prompts/grader/versions", json=RUBRIC, headers={"Authorization": f"Bearer {ADMIN}"}
        )
        assert response.status_code == 201, response.text
        yield url


@pytest.fixture
async def judges(gateway: str) -> AsyncIterator[JudgePorts]:
    client = PlatformClient("gateway", gateway, SERVICE)
    await client.start()
    yield JudgePorts(GatewayJudges(GatewayClient(client)))
    await client.stop()


async def test_the_model_servers_judge_scores_a_grounded_answer_above_an_unrelated_one(judges: JudgePorts) -> None:
    params = {"model": "local-judge", "prompt": {"name": "grader", "label": "production"}, "pass_threshold": 3}
    store = EvaluatorStore()
    store.put(TENANT, build_evaluator(configured("grounded", "llm_judge", params)))
    store.mark_caught_up()
    good = call(
        TENANT, call_id="good", messages=MESSAGES, output="Your parcel leaves the depot at nine in the morning."
    )
    bad = call(TENANT, call_id="bad", messages=MESSAGES, output="Bananas are rich in potassium.")
    out = InMemoryPublisher()
    assert await ModelStage(judges, ScoringRules()).score([good, bad], store, out) == 2
    scored = {e.data.call_id: e.data.scores[0] for e in out.on(EvaluationScored.topic)}
    assert scored["good"].score is not None and scored["bad"].score is not None
    assert scored["good"].score >= 4 and scored["good"].passed is True
    assert scored["bad"].score <= 2 and scored["bad"].passed is False
    assert scored["good"].evaluator.judge_model == "local-judge" and scored["good"].evaluator.judge_prompt_version == 1
    assert scored["good"].explanation is not None and scored["good"].explanation.startswith("Score: ")


async def test_the_adapter_over_the_real_gateway_keeps_the_judge_gateway_contract(judges: JudgePorts) -> None:
    await check_judge_gateway(judges.gateway, TENANT)
