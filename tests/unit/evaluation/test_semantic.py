"""The semantic evaluators over a fake embedder: similarity, groundedness and the hallucination score, the
sentence splitter, the gateway adapter's batching, and issue 9's edge cases (empty answer, empty reference or
context, an answer at the size limit)."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import httpx
import pytest
from llmops_evaluation.heuristics import Answer, Verdict
from llmops_evaluation.semantic import SEMANTIC_KINDS
from llmops_evaluation.semantic.gateway import GatewayEmbedder
from llmops_evaluation.semantic.grounding import negated, numbers_of
from llmops_evaluation.semantic.kinds import MAX_LISTED
from llmops_evaluation.semantic.sentences import split_sentences
from llmops_kit.platform_client import GatewayClient, PlatformClient

from tests.unit.evaluation.embedder_contract import EmbedderContract
from tests.unit.evaluation.fake_embedder import FakeEmbedder

CAP = 262_144
CONTEXT = (
    "The Harbour Museum opened in 1998. It is closed on Mondays. Entry costs 12 euros for adults.",
    "Children under 6 enter for free.",
)


class TestFakeEmbedder(EmbedderContract):
    @pytest.fixture
    def embedder(self) -> FakeEmbedder:
        return FakeEmbedder()


async def judge(
    kind: str, text: str, params: dict[str, Any] | None = None, embedder: Any = None, **about: Any
) -> list[Verdict]:
    semantic = SEMANTIC_KINDS[kind]
    answer = dataclasses.replace(Answer.of(text, cap=CAP), **about)
    evaluate = semantic.build_semantic(semantic.params.model_validate(params or {}))
    return await evaluate(answer, embedder or FakeEmbedder())


def by_metric(verdicts: list[Verdict]) -> dict[str, Verdict]:
    return {v.metric: v for v in verdicts}


# --- similarity -----------------------------------------------------------------------------------------


async def test_similarity_of_the_reference_itself_is_one() -> None:
    [verdict] = await judge("similarity", "Paris is the capital.", reference="Paris is the capital.")
    assert verdict.score == pytest.approx(1.0)
    assert (verdict.passed, verdict.label, verdict.score_min, verdict.score_max) == (True, "similar", -1.0, 1.0)


async def test_similarity_of_unrelated_texts_fails() -> None:
    [verdict] = await judge("similarity", "Bananas are yellow.", reference="Paris is the capital.")
    assert verdict.score == pytest.approx(0.0)
    assert (verdict.passed, verdict.label) == (False, "dissimilar")


@pytest.mark.parametrize("reference", [None, "", " \n"])
async def test_similarity_without_a_reference_gives_no_score(reference: str | None) -> None:
    embedder = FakeEmbedder()
    assert await judge("similarity", "Paris.", embedder=embedder, reference=reference) == []
    assert embedder.calls == []


async def test_an_empty_answer_is_not_similar_and_costs_no_request() -> None:
    embedder = FakeEmbedder()
    [verdict] = await judge("similarity", "  ", embedder=embedder, reference="Paris.")
    assert (verdict.score, verdict.passed, verdict.explanation) == (0.0, False, "the answer is empty")
    assert embedder.calls == []


async def test_similarity_embeds_bounded_texts() -> None:
    embedder = FakeEmbedder()
    await judge("similarity", "x" * CAP, {"max_chars": 100}, embedder, reference="y" * 5000)
    assert [len(t) for t in embedder.calls[0]] == [100, 100]


# --- groundedness and hallucination ---------------------------------------------------------------------


async def test_a_grounded_answer() -> None:
    answer = "The Harbour Museum opened in 1998. It is closed on Mondays."
    verdicts = by_metric(await judge("groundedness", answer, context=CONTEXT))
    assert (verdicts["groundedness"].score, verdicts["groundedness"].label) == (1.0, "grounded")
    assert verdicts["groundedness"].explanation == "2 of 2 sentences supported"
    assert (verdicts["hallucination"].score, verdicts["hallucination"].passed) == (0.0, True)
    assert verdicts["hallucination"].explanation is None


async def test_the_hallucination_score_names_each_unsupported_sentence_and_why() -> None:
    answer = (
        "The Harbour Museum opened in 1989. It is not closed on Mondays. Entry costs 12 euros for adults. "
        "Its gift shop sells maritime souvenirs."
    )
    verdicts = by_metric(await judge("groundedness", answer, context=CONTEXT))
    assert verdicts["groundedness"].score == 0.25
    assert verdicts["groundedness"].label == "partly_grounded"
    hallucination = verdicts["hallucination"]
    assert (hallucination.score, hallucination.passed, hallucination.label) == (3.0, False, "hallucination")
    assert hallucination.explanation is not None
    parts = hallucination.explanation.split("; ")
    assert parts[0] == '[1] "The Harbour Museum opened in 1989.": number 1989 not in the context'
    assert parts[1] == '[2] "It is not closed on Mondays.": negation differs from the closest context sentence'
    assert parts[2].startswith('[4] "Its gift shop sells maritime souvenirs.": weak support 0.')


async def test_the_checks_can_be_turned_off() -> None:
    answer = "The Harbour Museum opened in 1989. It is not closed on Mondays."
    params = {"check_numbers": False, "check_negation": False, "threshold": 0.5}
    verdicts = by_metric(await judge("groundedness", answer, params, context=CONTEXT))
    assert verdicts["hallucination"].score == 0.0


async def test_the_hallucination_explanation_is_bounded() -> None:
    answer = " ".join(f"Zebra number {i} flew over Lisbon." for i in range(40))
    verdicts = by_metric(await judge("groundedness", answer, context=CONTEXT))
    hallucination = verdicts["hallucination"]
    assert hallucination.score == 32.0  # max_sentences
    assert hallucination.explanation is not None
    assert hallucination.explanation.count('"Zebra') == MAX_LISTED
    assert hallucination.explanation.endswith("and 24 more")
    assert verdicts["groundedness"].explanation == "0 of 32 sentences supported (the first 32 judged, 8 more not)"


@pytest.mark.parametrize("context", [(), ("",), (" ", "\n"), ("---",)])
async def test_an_empty_context_gives_no_score_and_no_request(context: tuple[str, ...]) -> None:
    embedder = FakeEmbedder()
    assert await judge("groundedness", "The museum opened in 1998.", embedder=embedder, context=context) == []
    assert embedder.calls == []


@pytest.mark.parametrize("text", ["", "   ", "\U0001f600\U0001f389"])
async def test_an_answer_without_sentences_gives_no_score(text: str) -> None:
    assert await judge("groundedness", text, context=CONTEXT) == []


async def test_an_answer_at_the_size_limit_is_bounded_before_embedding() -> None:
    embedder = FakeEmbedder()
    answer = ("The Harbour Museum opened in 1998. " * 10_000)[:CAP]
    await judge("groundedness", answer, embedder=embedder, context=CONTEXT)
    [request] = embedder.calls
    assert len(request) == 32 + 4  # the first 32 answer sentences and the context's 4


async def test_an_embedder_failure_is_the_evaluators_failure() -> None:
    embedder = FakeEmbedder()
    embedder.fail = TimeoutError()
    with pytest.raises(TimeoutError):
        await judge("groundedness", "The museum opened in 1998.", embedder=embedder, context=CONTEXT)


@pytest.mark.parametrize(
    ("text", "numbers"),
    [
        ("In 1998, 12,000 people paid 3.5 euros", {"1998", "12000", "3.5"}),
        ("v2 of order A-12", {"12"}),
        ("none", set()),
    ],
)
def test_numbers_of(text: str, numbers: set[str]) -> None:
    assert numbers_of(text) == numbers


@pytest.mark.parametrize(
    ("text", "is_negated"),
    [("It isn't open.", True), ("It is not open.", True), ("Nobody came.", True), ("It is open.", False)],
)
def test_negated(text: str, is_negated: bool) -> None:
    assert negated(text) is is_negated


# --- sentences ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "sentences"),
    [
        ("Dr. Lee came at 3.5 p.m. on Monday. He left.", ["Dr. Lee came at 3.5 p.m. on Monday.", "He left."]),
        ("He met J. R. R. Tolkien! Was it fun? Yes.", ["He met J. R. R. Tolkien!", "Was it fun?", "Yes."]),
        ('She said "Go." Then "Stop."', ['She said "Go."', 'Then "Stop."']),
        ("See example.com or v1.2 now.", ["See example.com or v1.2 now."]),
        ("- First point\n- Second. Third.\n2) Fourth", ["First point", "Second.", "Third.", "Fourth"]),
        ("\u6771\u4eac\u3002\u5927\u304d\u3044\uff01", ["\u6771\u4eac\u3002", "\u5927\u304d\u3044\uff01"]),
        (
            "Moscow is big. \u041c\u043e\u0441\u043a\u0432\u0430.",
            ["Moscow is big.", "\u041c\u043e\u0441\u043a\u0432\u0430."],
        ),
        ("---\n\U0001f600\n", []),
        ("", []),
    ],
)
def test_split_sentences(text: str, sentences: list[str]) -> None:
    assert split_sentences(text) == sentences


# --- the gateway adapter --------------------------------------------------------------------------------


async def test_the_gateway_adapter_batches_requests_for_the_tenant() -> None:
    seen: list[tuple[str, dict[str, Any]]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        seen.append((request.headers["x-llmops-tenant"], body))
        data = [{"index": i, "embedding": [float(len(t))]} for i, t in reversed(list(enumerate(body["input"])))]
        return httpx.Response(200, json={"data": data})

    client = PlatformClient("gateway", "http://gw", "key", transport=httpx.MockTransport(answer))
    embedder = GatewayEmbedder(GatewayClient(client), "acme")
    texts = ["x" * (i % 7) for i in range(130)]
    await client.start()
    try:
        assert await embedder.embed(texts) == [[float(len(t))] for t in texts]
    finally:
        await client.stop()
    assert [len(body["input"]) for _, body in seen] == [64, 64, 2]
    assert {(tenant, body["model"]) for tenant, body in seen} == {("acme", "local-embedder")}


async def test_the_gateway_adapter_refuses_a_short_answer() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"data": [{"index": 0, "embedding": [1.0]}]})

    client = PlatformClient("gateway", "http://gw", "key", transport=httpx.MockTransport(answer))
    await client.start()
    try:
        with pytest.raises(ValueError, match="1 embeddings for 2 texts"):
            await GatewayEmbedder(GatewayClient(client), "acme").embed(["a", "b"])
    finally:
        await client.stop()
