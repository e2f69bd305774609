"""Verdicts from recorded calls: the warehouse reads (a fake query API), the decision, and the route."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import numpy as np
import pytest
from llmops_evaluation.abtest.compare import Design
from llmops_evaluation.abtest.history import ExperimentData, UnknownExperiment, WarehouseHistory, scores_of
from llmops_evaluation.abtest.verdict import decide
from llmops_evaluation.bootstrap import EvaluationPorts, create_app
from llmops_evaluation.config import EvaluationSettings
from llmops_evaluation.store import EvaluatorStore
from llmops_kit.auth import ApiKeyRecord, ApiKeyStore, hash_key
from llmops_kit.kafka.publisher import InMemoryPublisher
from llmops_kit.platform_client import PlatformCallError

from tests.unit.evaluation.fake_warehouse import FakeWarehouse, started_reader

READER, INGEST = "llmops_reader_key_for_verdicts_000", "llmops_ingest_key_for_verdicts_000"
KEYS = ApiKeyStore(
    [
        ApiKeyRecord(id="reader", tenant_id="acme", role="reader", sha256=hash_key(READER)),
        ApiKeyRecord(id="ingest", tenant_id="acme", role="ingest", sha256=hash_key(INGEST)),
    ]
)
DESIGN = Design(alpha=0.05, min_samples=50)


async def history(
    warehouse: FakeWarehouse, *, max_calls: int = 10_000, transport: httpx.AsyncBaseTransport | None = None
) -> WarehouseHistory:
    reader = await started_reader(transport or warehouse.transport())
    return WarehouseHistory(reader, gateway_source="/services/inference", max_calls=max_calls, max_events=100_000)


def stocked(n: int = 400, lift: float = 1.0, seed: int = 0) -> FakeWarehouse:
    """Experiment ``exp`` of tenant acme: arms a and b, a score per call (b's higher by ``lift``), some noise rows."""
    rng = np.random.default_rng(seed)
    w = FakeWarehouse()
    w.experiment("acme", "exp", primary_metric="relevance")
    for i in range(n):
        variant = "ab"[i % 2]
        w.call("acme", f"c{i}", variant, i, latency_ms=float(rng.lognormal(5, 0.5)))
        score = float(np.clip(rng.normal(3 + (lift if variant == "b" else 0), 1), 0, 5))
        item = {"score_id": f"s{i}", "metric": "relevance", "outcome": "scored", "score": score}
        w.event("acme", "evaluation_scores", i, {"call_id": f"c{i}", "app": "support-bot", "scores": [item]})
    w.call("acme", "platform-1", "b", 1, origin="platform")
    w.call("acme", "ingested-1", "b", 1, source="/services/ingest")
    w.call("globex", "other-1", "b", 1)
    return w


async def test_history_reads_only_gateway_application_calls_of_the_tenant() -> None:
    w = stocked(10)
    w.event("acme", "feedback", 3, {"feedback_id": "f1", "call_id": "c1", "kind": "thumbs", "value": 0})
    w.event("acme", "feedback", 4, {"feedback_id": "f1", "call_id": "c1", "kind": "thumbs", "value": 1})
    w.event("acme", "feedback", 4, {"feedback_id": "f2", "call_id": "c2", "kind": "comment", "value": None})
    w.event("acme", "cost_records", 5, {"call_id": "c3", "app": "support-bot", "cost": 0.002})
    data = await (await history(w)).load("acme", "exp")
    assert sorted(c.call_id for c in data.calls) == sorted(f"c{i}" for i in range(10))
    assert {r.headers["X-LLMOps-Tenant"] for r in w.requests} == {"acme"}
    assert all(r.headers["Authorization"] == "Bearer service-key" for r in w.requests)
    assert [f.value for f in data.feedback] == [0.0, 1.0] and data.costs == {"c3": 0.002}
    assert len(data.scores) == 10 and not data.truncated
    calls = next(r for r in w.requests if r.url.path == "/v1/calls")
    assert calls.url.params["origin"] == "application" and calls.url.params["experiment_id"] == "exp"


async def test_history_is_bounded_and_says_so() -> None:
    data = await (await history(stocked(30), max_calls=12)).load("acme", "exp")
    assert len(data.calls) == 12 and data.truncated


async def test_unknown_experiment_and_busy_warehouse() -> None:
    w = stocked(2)
    with pytest.raises(UnknownExperiment):
        await (await history(w)).load("globex", "exp")
    w.fail_with = 429
    with pytest.raises(PlatformCallError) as busy:
        await (await history(w)).load("acme", "exp")
    assert busy.value.retryable and busy.value.status == 429


def test_scores_are_read_from_v2_passes_scored_items_only() -> None:
    judge = {"name": "j", "version": "1", "kind": "llm_judge"}
    items = [
        {"score_id": "1", "evaluator": judge, "metric": "relevance", "outcome": "scored", "score": 4},
        {"score_id": "2", "evaluator": judge, "metric": "tone", "outcome": "malformed"},
        {"score_id": "3", "evaluator": judge, "metric": "tone", "outcome": "timeout", "score": None},
    ]
    one_pass = {"data": {"call_id": "c1", "scores": items}}
    assert [(s.call_id, s.metric, s.score) for s in scores_of(one_pass)] == [("c1", "relevance", 4.0)]
    pairwise = {"data": {"call_id": "c1", "compared_call_id": "c1-shadow", "scores": items}}
    offline = {"data": {"call_id": "c1", "run_id": "run-1", "scores": items}}
    assert list(scores_of(pairwise)) == [] and list(scores_of(offline)) == []


async def test_a_better_variant_on_the_primary_metric() -> None:
    data = await (await history(stocked(400, lift=1.0))).load("acme", "exp")
    verdict = decide(data, DESIGN)
    [b] = verdict.variants
    assert (verdict.verdict, verdict.winner, b.verdict) == ("variant_better", "b", "variant_better")
    assert b.primary is not None and b.primary.metric == "relevance" and b.primary.test == "welch"
    assert {m.metric: m.test for m in b.metrics} == {
        "error_rate": "two_proportion", "latency_ms": "mann_whitney", "relevance": "welch"
    }  # fmt: skip
    assert (verdict.control_calls, b.calls) == (200, 200)


async def test_a_worse_variant_and_the_primary_metric_override() -> None:
    data = await (await history(stocked(400, lift=-1.0))).load("acme", "exp")
    assert decide(data, DESIGN).verdict == "variant_worse"
    by_errors = decide(data, DESIGN, "error_rate")
    assert by_errors.primary_metric == "error_rate" and by_errors.verdict == "keep_running"


def data_of(experiment: dict[str, Any], calls: int) -> ExperimentData:
    w = FakeWarehouse()
    w.experiment("acme", "exp", **experiment)
    for i in range(calls):
        w.call("acme", f"c{i}", ["a", "b", "c"][i % 3], i, status="error" if i % 7 == 0 else "ok")

    async def load() -> ExperimentData:
        return await (await history(w)).load("acme", "exp")

    return asyncio.run(load())


def test_few_calls_keep_running_and_bonferroni_splits_alpha() -> None:
    three = {"variants": [{"name": n, "weight": w} for n, w in (("a", 0.4), ("b", 0.3), ("c", 0.3))]}
    verdict = decide(data_of(three, 60), DESIGN)
    assert verdict.verdict == "keep_running" and [v.variant for v in verdict.variants] == ["b", "c"]
    assert verdict.primary_metric == "error_rate" and "fewer than 50" in verdict.variants[0].reason
    scored = decide(data_of(three, 60), DESIGN, "relevance")
    assert scored.variants[0].verdict == "keep_running" and scored.variants[0].reason == "no relevance values yet"


class Harness:
    def __init__(self, source: WarehouseHistory | None, concurrency: int = 2) -> None:
        store = EvaluatorStore()
        store.mark_caught_up()
        ports = EvaluationPorts(InMemoryPublisher(), KEYS, store, history=source)
        settings = EvaluationSettings(verdict_min_samples=50, verdict_concurrency=concurrency)
        self.app = create_app(settings, ports=ports)

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://evaluation")


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def test_route_answers_the_verdict_and_problems() -> None:
    async with Harness(await history(stocked(400))).client() as client:
        ok = await client.get("/v1/experiments/exp/verdict", headers=auth(READER))
        assert ok.status_code == 200, ok.text
        assert ok.json()["verdict"] == "variant_better" and ok.json()["variants"][0]["primary"]["test"] == "welch"
        missing = await client.get("/v1/experiments/nope/verdict", headers=auth(READER))
        assert missing.status_code == 404 and missing.json()["detail"] == "no experiment 'nope'"
        bad = await client.get("/v1/experiments/exp/verdict", params={"alpha": 0.9}, headers=auth(READER))
        assert bad.status_code == 422 and bad.json()["errors"][0]["loc"] == ["query", "alpha"]
        assert (await client.get("/v1/experiments/exp/verdict")).status_code == 401
        assert (await client.get("/v1/experiments/exp/verdict", headers=auth(INGEST))).status_code == 403


async def test_route_without_history_or_with_a_busy_warehouse_is_503() -> None:
    async with Harness(None).client() as client:
        off = await client.get("/v1/experiments/exp/verdict", headers=auth(READER))
        assert off.status_code == 503 and "LLMOPS_SERVICE_KEY" in off.json()["detail"]
    busy = stocked(4)
    busy.fail_with = 503
    async with Harness(await history(busy)).client() as client:
        down = await client.get("/v1/experiments/exp/verdict", headers=auth(READER))
        assert down.status_code == 503 and down.headers["Retry-After"] == "5"
    busy.fail_with = 422
    async with Harness(await history(busy)).client() as client:
        refused = await client.get("/v1/experiments/exp/verdict", headers=auth(READER))
        assert refused.status_code == 502 and "(422)" in refused.json()["detail"]


async def test_more_verdicts_at_once_than_allowed_is_429() -> None:
    gate = asyncio.Event()
    w = stocked(4)
    handle = w._handle

    async def slow(request: httpx.Request) -> httpx.Response:
        w.requests.append(request)
        await gate.wait()
        return handle(request)

    async with Harness(await history(w, transport=httpx.MockTransport(slow)), concurrency=1).client() as client:
        first = asyncio.create_task(client.get("/v1/experiments/exp/verdict", headers=auth(READER)))
        while not w.requests:  # the first verdict holds the one slot, waiting on the warehouse
            await asyncio.sleep(0)
        second = await client.get("/v1/experiments/exp/verdict", headers=auth(READER))
        assert second.status_code == 429 and second.headers["Retry-After"] == "1"
        gate.set()
        assert (await first).status_code == 200
