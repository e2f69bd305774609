"""An LLM judge in a run: awaited on each answer through the (fake) gateway, its score or its failure an item."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest
from llmops_evaluation.heuristics import KINDS
from llmops_schemas.v2 import EvaluationScored

from tests.unit.evaluation.test_runs_api import A, Harness, Probe, jsonl, upload

JUDGE = {"name": "helpful", "kind": "llm_judge",
         "params": {"model": "judge-m", "prompt": {"name": "rubric", "version": 2}, "timeout_s": 5}}  # fmt: skip


@pytest.fixture
async def h(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Harness]:
    monkeypatch.setitem(KINDS, "probe", Probe)
    harness = Harness(run_chunk=2)
    await harness.client.start()
    yield harness
    await harness.executor.stop()
    await harness.client.stop()


async def run_with_judge(h: Harness) -> list[EvaluationScored]:
    async with h.http() as client:
        await upload(client, jsonl({"id": "q1", "input": "q1"}, {"id": "q2", "input": "Where is q2?"}))
        spec = {"dataset": "faq", "variant": {"model": "m"}, "inline": [JUDGE, {"name": "probe", "kind": "probe"}]}
        started = await client.post("/v1/runs", json=spec, headers=A)
        assert started.status_code == 202, started.text
        done = await h.finished(started.json()["run_id"])
    assert (done.status, done.completed, done.failed) == ("completed", 2, 0)
    return [s for s in h.publisher.of(EvaluationScored) if s.run_id == done.run_id]


async def test_the_judge_scores_each_answer_with_its_rubric(h: Harness) -> None:
    h.platform.answer = lambda text: "Score: 4/5\nReason: fine." if text.startswith("Where") else f"answer: {text}"
    scored = await run_with_judge(h)
    judged = {s.example_id: next(i for i in s.scores if i.evaluator.name == "helpful") for s in scored}
    assert {k: (i.outcome, i.score) for k, i in judged.items()} == {"q1": ("malformed", None), "q2": ("scored", 4.0)}
    assert judged["q2"].evaluator.judge_model == "judge-m" and judged["q2"].evaluator.judge_prompt_version == 2
    judge_calls = [r for r in h.platform.requests if r.get("model") == "judge-m"]
    assert len(judge_calls) == 2
    assert all(r["prompt"]["name"] == "rubric" and r["prompt"]["version"] == 2 for r in judge_calls)
    assert {r["metadata"]["llmops_judged_call"] for r in judge_calls} == {s.call_id for s in scored}
    assert all(len(s.scores) == 2 for s in scored)  # the heuristic still scores beside it


async def test_a_judge_the_gateway_refuses_is_an_error_item_and_the_run_completes(h: Harness) -> None:
    platform = h.platform

    def judge_route_down(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/chat/completions" and json.loads(request.content).get("model") == "judge-m":
            return httpx.Response(503, json={"detail": "judge route down"})
        return platform(request)

    await h.client.stop()
    h.client._transport = httpx.MockTransport(judge_route_down)  # the same client the executor holds, rewired
    await h.client.start()
    scored = await run_with_judge(h)
    items = [i for s in scored for i in s.scores if i.evaluator.name == "helpful"]
    assert [i.outcome for i in items] == ["error", "error"]
    assert all("platform answered 503: judge route down" in (i.explanation or "") for i in items)
