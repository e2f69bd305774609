"""The semantic evaluators' embedder through the real path: the gateway's ``/v1/embeddings`` (a service key acting
for a tenant) to the model server's Triton ``embedder``. The port's contract suite runs here against the adapter
it runs against the fake in the unit tests, a hallucination is found and named end to end, and the model stage
scores a call's groundedness against its system message as the service wires it."""

from __future__ import annotations

import dataclasses
import functools
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from llmops_evaluation.handlers import ScoringRules
from llmops_evaluation.heuristics import Answer
from llmops_evaluation.judges.adapters import GatewayJudges
from llmops_evaluation.model_stage import ModelStage
from llmops_evaluation.ports import JudgePorts
from llmops_evaluation.semantic import SEMANTIC_KINDS
from llmops_evaluation.semantic.gateway import DEFAULT_EMBEDDING_MODEL, GatewayEmbedder
from llmops_kit.auth import hash_key
from llmops_kit.kafka.publisher import InMemoryPublisher
from llmops_kit.platform_client import GatewayClient, PlatformClient
from llmops_model_server.build import ensure_models
from llmops_model_server.config import default_model_dir
from llmops_schemas.v2 import EvaluationScored

from tests.fixtures.gateway import serve_gateway
from tests.integration.model_server.conftest import ModelServer, serve_models
from tests.unit.evaluation.calls import call, configured
from tests.unit.evaluation.embedder_contract import EmbedderContract
from tests.unit.evaluation.test_scoring import store_with

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(600)]

SERVICE_KEY = "llmops_it_eval_service_" + uuid.uuid4().hex
READER_KEY = "llmops_it_eval_reader_" + uuid.uuid4().hex
TENANT = f"it-sem-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def embedder_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModelServer]:
    folder = default_model_dir()
    ensure_models(folder)
    with serve_models(folder, tmp_path_factory.mktemp("semantic-model-server")) as server:
        yield server


@pytest.fixture(scope="module")
def gateway(
    kafka_bootstrap: str, embedder_server: ModelServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    keys = (
        "keys:\n"
        f"  - {{id: it-eval-svc, tenant_id: '*', role: service, sha256: {hash_key(SERVICE_KEY)}}}\n"
        f"  - {{id: it-eval-reader, tenant_id: {TENANT}, role: reader, sha256: {hash_key(READER_KEY)}}}\n"
    )
    target = "{backend: triton, upstream: triton, model: embedder, timeout_s: 60}"
    routes = (
        f"upstreams:\n  - {{name: triton, base_url: 'grpc://{embedder_server.grpc}'}}\n"
        f"models:\n  {DEFAULT_EMBEDDING_MODEL}: [{target}]\n"
    )
    folder = tmp_path_factory.mktemp("semantic-gateway")
    with serve_gateway(kafka_bootstrap, folder, keys=keys, key=READER_KEY, routes=routes) as url:
        yield url


@pytest.fixture
async def embedder(gateway: str) -> AsyncIterator[GatewayEmbedder]:
    client = PlatformClient("gateway", gateway, SERVICE_KEY, timeout_s=60)
    await client.start()
    try:
        yield GatewayEmbedder(GatewayClient(client), TENANT)
    finally:
        await client.stop()


class TestGatewayEmbedder(EmbedderContract):
    async def test_vectors_are_the_embedders_384_unit_vectors(self, embedder: GatewayEmbedder) -> None:
        [vector] = await embedder.embed(["Where is my parcel?"])
        assert len(vector) == 384
        assert sum(x * x for x in vector) == pytest.approx(1.0, abs=1e-4)


async def test_a_numeric_contradiction_is_named_through_the_real_embedder(embedder: GatewayEmbedder) -> None:
    kind = SEMANTIC_KINDS["groundedness"]
    judge = kind.build_semantic(kind.params.model_validate({}))
    answer = dataclasses.replace(
        Answer.of("The Harbour Museum opened in 1998. Entry costs 15 euros for adults.", cap=10_000),
        context=("The Harbour Museum opened in 1998 in a former customs warehouse. Entry costs 12 euros for adults.",),
    )
    verdicts = {v.metric: v for v in await judge(answer, embedder)}
    assert (verdicts["groundedness"].score, verdicts["hallucination"].score) == (0.5, 1.0)
    assert verdicts["hallucination"].explanation == (
        '[2] "Entry costs 15 euros for adults.": number 15 not in the context'
    )


async def test_similarity_knows_a_paraphrase_through_the_real_embedder(embedder: GatewayEmbedder) -> None:
    kind = SEMANTIC_KINDS["similarity"]
    judge = kind.build_semantic(kind.params.model_validate({"min_similarity": 0.6}))
    close = dataclasses.replace(Answer.of("Your parcel is on its way.", cap=100), reference="The package has shipped.")
    far = dataclasses.replace(Answer.of("Paris is in France.", cap=100), reference="The package has shipped.")
    [near_verdict], [far_verdict] = await judge(close, embedder), await judge(far, embedder)
    assert near_verdict.score > far_verdict.score + 0.2


async def test_the_model_stage_scores_groundedness_of_a_call_through_the_real_embedder(gateway: str) -> None:
    client = PlatformClient("gateway", gateway, SERVICE_KEY, timeout_s=60)
    await client.start()
    try:
        gateway_client = GatewayClient(client)
        ports = JudgePorts(GatewayJudges(gateway_client), None, functools.partial(GatewayEmbedder, gateway_client))
        messages = [
            {"role": "system", "content": "The Harbour Museum opened in 1998. Entry costs 12 euros for adults."},
            {"role": "user", "content": "How much is a ticket?"},
        ]
        recorded = call(TENANT, messages=messages, output="Entry costs 12 euros. The Harbour Museum opened in 1989.")
        out = InMemoryPublisher()
        store = store_with(configured("grounded", "groundedness"), tenant=TENANT)
        await ModelStage(ports, ScoringRules()).score([recorded], store, out)
    finally:
        await client.stop()
    [event] = out.on(EvaluationScored.topic)
    by_metric = {i.metric: i for i in event.data.scores}
    assert by_metric["groundedness"].evaluator.kind == "semantic"
    assert (by_metric["groundedness"].score, by_metric["hallucination"].score) == (0.5, 1.0)
    assert by_metric["hallucination"].explanation == (
        '[2] "The Harbour Museum opened in 1989.": number 1989 not in the context'
    )
