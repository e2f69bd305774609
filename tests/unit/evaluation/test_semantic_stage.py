"""Semantic evaluators in the model stage: configured like any kind, judged with the embedder the ports give for
the call's tenant and model, scored as ``kind: semantic``; no context, no score; no embedder, an error item."""

from __future__ import annotations

from collections.abc import Sequence

from llmops_evaluation.evaluators import build_evaluator
from llmops_evaluation.handlers import ScoringRules
from llmops_evaluation.model_stage import ModelStage
from llmops_evaluation.ports import JudgePorts
from llmops_evaluation.semantic.base import Embedder
from llmops_kit.kafka.publisher import InMemoryPublisher
from llmops_schemas.envelope import CloudEvent
from llmops_schemas.v1 import EvaluatorConfigured
from llmops_schemas.v2 import EvaluationScored

from tests.unit.evaluation.calls import call, configured
from tests.unit.evaluation.fake_embedder import FakeEmbedder
from tests.unit.evaluation.judges import FakeGateway
from tests.unit.evaluation.test_http import ADMIN, auth
from tests.unit.evaluation.test_judge_config import client_of
from tests.unit.evaluation.test_scoring import scored, store_with

CONTEXT = [
    {"role": "system", "content": "The depot opens at 9. Parcels leave the depot at 10 every weekday."},
    {"role": "user", "content": "When does my parcel leave?"},
]
ANSWER = "Parcels leave the depot at 10 every weekday. They travel by drone over the sea."


class Embedders:
    """The ports' embedder factory: one fake, and which tenant and model each request was for."""

    def __init__(self) -> None:
        self.fake = FakeEmbedder()
        self.asked: list[tuple[str, str]] = []

    def __call__(self, tenant: str, model: str) -> Embedder:
        self.asked.append((tenant, model))
        return self.fake


async def judged(
    embedders: Embedders | None, *configs: EvaluatorConfigured, messages: Sequence[dict[str, str]] = CONTEXT
) -> list[CloudEvent[EvaluationScored]]:
    stage = ModelStage(JudgePorts(FakeGateway(), None, embedders), ScoringRules())
    out = InMemoryPublisher()
    await stage.score([call(messages=list(messages), output=ANSWER)], store_with(*configs), out)
    return out.on(EvaluationScored.topic)


async def test_groundedness_runs_in_the_model_stage_against_the_calls_context() -> None:
    embedders = Embedders()
    [event] = await judged(embedders, configured("grounded", "groundedness", {"model": "my-embedder"}))
    by_metric = {i.metric: i for i in event.data.scores}
    assert sorted(by_metric) == ["groundedness", "hallucination"]
    assert {i.evaluator.kind for i in event.data.scores} == {"semantic"}
    assert by_metric["groundedness"].score == 0.5
    assert by_metric["hallucination"].explanation is not None
    assert by_metric["hallucination"].explanation.startswith('[2] "They travel by drone over the sea.": weak')
    assert embedders.asked == [("acme", "my-embedder")]


async def test_semantic_kinds_stay_out_of_the_heuristic_pass() -> None:
    assert await scored(store_with(configured("grounded", "groundedness")), call(messages=CONTEXT)) == []


async def test_a_call_without_context_or_reference_gets_no_semantic_score() -> None:
    user_only = [{"role": "user", "content": "When does my parcel leave?"}]
    configs = (configured("grounded", "groundedness"), configured("similar", "similarity"))
    assert await judged(Embedders(), *configs, messages=user_only) == []


async def test_without_an_embedder_the_failure_is_recorded() -> None:
    [event] = await judged(None, configured("grounded", "groundedness"))
    [item] = event.data.scores
    assert (item.outcome, item.metric, item.evaluator.kind) == ("error", "groundedness", "semantic")
    assert item.explanation == "no embedder: this service has no gateway URL and service key"


def test_a_semantic_reference_names_no_judge() -> None:
    ref = build_evaluator(configured("grounded", "groundedness")).ref
    assert (ref.kind, ref.judge_model, ref.judge_prompt) == ("semantic", None, None)


async def test_setting_a_semantic_evaluator_checks_its_embedding_model_with_the_gateway() -> None:
    spec = {"kind": "groundedness", "app": "support-bot", "params": {"model": "local-embedder"}}
    client, _ = client_of(FakeGateway(models_served=["judge", "local-embedder"]))
    async with client:
        assert (await client.put("/v1/evaluators/grounded", json=spec, headers=auth(ADMIN))).status_code == 201
        missing = {**spec, "params": {"model": "no-such-embedder"}}
        refused = await client.put("/v1/evaluators/other", json=missing, headers=auth(ADMIN))
    assert refused.status_code == 422
    assert "params.model: the gateway has no model 'no-such-embedder'" in refused.json()["detail"]
