"""Datasets and runs on the real routes, with the kit's in-memory publisher, a fake gateway and a fake warehouse
that serves back the scores the service published (the real ones run in tests/integration/evaluation)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import httpx
import pytest
from llmops_evaluation.bootstrap import EvaluationPorts, create_app
from llmops_evaluation.config import EvaluationSettings
from llmops_evaluation.entrypoints.runs_http import RUNS_KEY
from llmops_evaluation.heuristics import KINDS, Answer, Heuristic, Params, Verdict
from llmops_evaluation.runs.executor import RunExecutor
from llmops_evaluation.runs.stores import DatasetStore, RunStore
from llmops_evaluation.store import EvaluatorStore
from llmops_kit.auth import ApiKeyRecord, ApiKeyStore, hash_key
from llmops_kit.kafka.publisher import InMemoryPublisher
from llmops_kit.platform_client import GatewayClient, PlatformClient, WarehouseReader
from llmops_schemas.v1.runs import DatasetExampleAdded, DatasetVersionCreated, RunUpdated
from llmops_schemas.v2 import AuditRecorded, EvaluationScored

ADMIN, READER = "llmops_admin_key_for_runs_000000000000000", "llmops_reader_key_for_runs_0000"
KEYS = ApiKeyStore(
    [
        ApiKeyRecord(id="admin", tenant_id="acme", role="admin", sha256=hash_key(ADMIN)),
        ApiKeyRecord(id="reader", tenant_id="acme", role="reader", sha256=hash_key(READER)),
    ]
)
A, R = {"Authorization": f"Bearer {ADMIN}"}, {"Authorization": f"Bearer {READER}"}


class Probe(Heuristic):
    """A test kind that scores what the answer was judged against: the example's input, reference and context."""

    kind: ClassVar[str] = "probe"
    version: ClassVar[str] = "1"
    params: ClassVar[type[Params]] = Params

    @classmethod
    def build(cls, params: Any) -> Callable[[Answer], list[Verdict]]:
        def judge(answer: Answer) -> list[Verdict]:
            seen = json.dumps([answer.text, answer.prompt, answer.reference, list(answer.context)])
            good = answer.reference is not None and answer.reference in answer.text
            return [Verdict("matches_reference", 1.0 if good else 0.0, good, explanation=seen)]

        return judge


class Platform:
    """The gateway and the warehouse as one fake: answers come from ``answer(input)``; 'boom' inputs get a 502."""

    def __init__(self, publisher: InMemoryPublisher) -> None:
        self.publisher = publisher
        self.requests: list[dict[str, Any]] = []
        self.answer: Callable[[str], str] = lambda text: f"answer: {text}"
        self.calls: list[dict[str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/chat/completions":
            body = json.loads(request.content)
            self.requests.append(body)
            text = body["prompt"]["variables"]["question"] if "prompt" in body else body["messages"][0]["content"]
            if text == "boom":
                return httpx.Response(502, json={"detail": "upstream down"})
            if text == "odd":
                return httpx.Response(200, json={"id": "chatcmpl-odd", "choices": "not a list"})
            message = {"role": "assistant", "content": self.answer(text)}
            return httpx.Response(200, json={"id": f"chatcmpl-{len(self.requests)}", "choices": [{"message": message}]})
        if request.url.path == "/v1/calls":
            self.requests.append(dict(request.url.params))
            return httpx.Response(200, json={"items": self.calls, "next_cursor": None})
        assert request.url.path == "/v1/events/evaluation_scores", request.url
        run_id = request.url.params["run_id"]
        items = [{"data": s.model_dump(mode="json")} for s in self.publisher.of(EvaluationScored) if s.run_id == run_id]
        return httpx.Response(200, json={"items": items, "next_cursor": None})


class Harness:
    def __init__(self, **settings: Any) -> None:
        self.publisher = InMemoryPublisher()
        self.platform = Platform(self.publisher)
        self.client = PlatformClient("platform", "http://platform", "svc", transport=httpx.MockTransport(self.platform))
        stores = EvaluatorStore(), DatasetStore(), RunStore()
        for store in stores:
            store.mark_caught_up()
        self.datasets, self.runs = stores[1], stores[2]
        ports = EvaluationPorts(self.publisher, KEYS, stores[0], datasets=stores[1], runs=stores[2],
                                gateway=GatewayClient(self.client), warehouse=WarehouseReader(self.client))  # fmt: skip
        self.app = create_app(EvaluationSettings(**settings), ports=ports)

    @property
    def executor(self) -> RunExecutor:
        executor: RunExecutor = getattr(self.app.state, RUNS_KEY).executor
        return executor

    def http(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://evaluation")

    async def finished(self, run_id: str) -> RunUpdated:
        """The run's state once it is no longer running (the background task is awaited, no sleep)."""
        while (run := self.runs.get("acme", run_id)) is None or run.status == "running":
            await asyncio.sleep(0)
        return run


@pytest.fixture
async def h(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Harness]:
    monkeypatch.setitem(KINDS, "probe", Probe)
    harness = Harness(run_chunk=2, max_dataset_bytes=4096, max_body_bytes=1024)
    await harness.client.start()
    yield harness
    await harness.executor.stop()
    await harness.client.stop()


def jsonl(*rows: dict[str, Any]) -> bytes:
    return b"\n".join(json.dumps(r).encode() for r in rows)


ROWS = [
    {"id": "q1", "input": "q1", "expected": "answer: q1", "context": ["c1"]},
    {"id": "q2", "input": "q2", "expected": "answer: q2"},
    {"id": "q3", "input": "q3", "expected": "answer: q3"},
    {"id": "q4", "input": "boom", "expected": "never"},
    {"id": "q4b", "input": "odd"},
    {"id": "q5", "input": "q5", "expected": "answer: q5"},
]


async def upload(client: httpx.AsyncClient, body: bytes, name: str = "faq") -> httpx.Response:
    headers = {**A, "Content-Type": "application/x-ndjson"}
    return await client.post(f"/v1/datasets/{name}", content=body, headers=headers)


async def test_upload_versions_and_per_line_errors(h: Harness) -> None:
    async with h.http() as client:
        first = await upload(client, jsonl(*ROWS[:2]) + b"\n{broken\n" + jsonl({"nope": 1}))
        assert first.status_code == 201, first.text
        body = first.json()
        assert (body["imported"], body["refused"], body["dataset"]["version"]) == (2, 2, 1)
        assert [e["line"] for e in body["errors"]] == [3, 4] and "input: Field required" in body["errors"][1]["error"]
        second = (await upload(client, jsonl(*ROWS[:2]))).json()["dataset"]
        assert second["version"] == 2 and second["digest"] == body["dataset"]["digest"]
        listed = await client.get("/v1/datasets/faq/versions", headers=R)
        assert [v["version"] for v in listed.json()["items"]] == [1, 2]
        shown = (await client.get("/v1/datasets/faq", params={"version": 1, "limit": 1}, headers=R)).json()
        assert [e["example_id"] for e in shown["examples"]] == ["q1"] and shown["dataset"]["examples"] == 2

        nothing = await upload(client, b"{broken\n")
        assert nothing.status_code == 422 and [e["line"] for e in nothing.json()["errors"]] == [1]
        too_big = await upload(client, b"x" * 5000)
        assert too_big.status_code == 413 and too_big.json()["limit"] == 4096
        # Uploads may be larger than other bodies, which keep the service's usual limit.
        long_rows = jsonl(*({"input": f"{i} " + "y" * 300} for i in range(6)))
        assert 1024 < len(long_rows) < 4096 and (await upload(client, long_rows, "long")).status_code == 201
        spec = {"kind": "length", "app": "a", "params": {"max_chars": 1}, "prompt_name": "p" * 200}
        big_json = await client.put("/v1/evaluators/e", json={**spec, "model": "m" * 1000}, headers=A)
        assert big_json.status_code == 413 and big_json.json()["limit"] == 1024
        assert (await client.get("/v1/datasets/none", headers=R)).status_code == 404
        assert (await client.post("/v1/datasets/faq", content=jsonl(ROWS[0]), headers=R)).status_code == 403
    assert [a.action for a in h.publisher.of(AuditRecorded)] == ["dataset.create"] * 3
    assert len(h.publisher.of(DatasetExampleAdded)) == 10 and len(h.publisher.of(DatasetVersionCreated)) == 3
    assert h.publisher.topics[-1] == AuditRecorded.topic  # examples, then the manifest, then the audit entry


async def start(client: httpx.AsyncClient, **variant: Any) -> dict[str, Any]:
    spec = {"dataset": "faq", "variant": variant or {"model": "m"}, "inline": [{"name": "probe", "kind": "probe"}]}
    started = await client.post("/v1/runs", json=spec, headers=A)
    assert started.status_code == 202, started.text
    body: dict[str, Any] = started.json()
    return body


async def test_a_run_scores_every_example_and_records_failures(h: Harness) -> None:
    async with h.http() as client:
        await upload(client, jsonl(*ROWS))
        run = await start(client, model="m", prompt_name="support", prompt_version=3, input_variable="question")
        done = await h.finished(run["run_id"])
        assert (done.status, done.total, done.completed, done.failed) == ("completed", 6, 6, 2)
        assert [(f.example_id, f.reason) for f in done.failures] == [
            ("q4", "platform answered 502: upstream down"),
            ("q4b", "the gateway's answer is not a chat completion (AttributeError)"),
        ]
        assert h.platform.requests[0] == {"stream": False, "model": "m", "prompt": {"name": "support", "version": 3,
                                          "variables": {"question": "q1"}}}  # fmt: skip
        scored = [s for s in h.publisher.of(EvaluationScored) if s.run_id == run["run_id"]]
        assert sorted(s.example_id or "" for s in scored) == ["q1", "q2", "q3", "q5"]
        first = next(s for s in scored if s.example_id == "q1")
        assert json.loads(first.scores[0].explanation or "") == ["answer: q1", "q1", "answer: q1", ["c1"]]
        assert first.call_id.startswith("chatcmpl-") and first.scores[0].score == 1.0
        progress = [r.completed for r in h.publisher.of(RunUpdated) if r.run_id == run["run_id"]]
        assert progress == [0, 2, 4, 6, 6]  # started, one record per chunk of 2, then completed
        got = await client.get(f"/v1/runs/{run['run_id']}", headers=R)
        assert got.json()["status"] == "completed"
        bias = await client.get(f"/v1/runs/{run['run_id']}/bias", headers=R)
        assert bias.status_code == 200 and bias.json()["gaps"] == []


async def test_compare_and_gate_two_runs(h: Harness) -> None:
    async with h.http() as client:
        await upload(client, jsonl(*ROWS[:3], ROWS[5]))
        baseline = (await h.finished((await start(client))["run_id"])).run_id
        h.platform.answer = lambda text: "answer: q1" if text == "q1" else "something else"
        candidate = (await h.finished((await start(client))["run_id"])).run_id
        pair = {"baseline": baseline, "candidate": candidate}
        compared = await client.get("/v1/runs/compare", params=pair, headers=R)
        assert compared.status_code == 200, compared.text
        [metric] = compared.json()["metrics"]
        assert (metric["baseline"]["mean"], metric["candidate"]["mean"], metric["delta"]) == (1.0, 0.25, -0.75)
        assert metric["paired"] and metric["pass_rate_delta"] == -0.75
        rows = {r["example_id"]: (r["baseline"], r["candidate"]) for r in compared.json()["examples"]}
        assert rows == {"q1": (1.0, 1.0), "q2": (1.0, 0.0), "q3": (1.0, 0.0), "q5": (1.0, 0.0)}
        params = {"baseline": baseline, "candidate": candidate, "evaluator": "probe"}
        failed = await client.get("/v1/runs/gate", params={**params, "max_drop": 0.5}, headers=R)
        assert failed.json()["passed"] is False
        passed = await client.get("/v1/runs/gate", params={**params, "max_drop": 0.8}, headers=R)
        assert passed.json()["passed"] is True
        unknown = await client.get("/v1/runs/gate", params={**params, "evaluator": "x", "max_drop": 1}, headers=R)
        assert unknown.status_code == 404


async def test_a_restarted_run_resumes_after_its_last_chunk_with_the_same_ids(h: Harness) -> None:
    async with h.http() as client:
        await upload(client, jsonl(*ROWS[:3], ROWS[5]))
        run = await h.finished((await start(client))["run_id"])
    ids = {s.example_id: s.evaluation_id for s in h.publisher.of(EvaluationScored)}
    calls = len(h.platform.requests)
    # As if the service had died after the first chunk: its last progress record said 2 of 4 done.
    stopped = run.model_copy(update={"status": "running", "completed": 2})
    before = len(h.publisher.of(EvaluationScored))
    resumed = await h.executor.execute("acme", stopped)
    assert (resumed.status, resumed.completed) == ("completed", 4)
    assert len(h.platform.requests) - calls == 2  # only the remaining examples went to the gateway
    again = h.publisher.of(EvaluationScored)[before:]
    assert [(s.example_id, s.evaluation_id) for s in again] == [("q3", ids["q3"]), ("q5", ids["q5"])]


async def test_runs_are_refused_clearly(h: Harness) -> None:
    async with h.http() as client:
        await upload(client, jsonl(*ROWS[:2]))
        bad = {"dataset": "faq", "variant": {}, "inline": [{"name": "p", "kind": "probe"}]}
        assert (await client.post("/v1/runs", json=bad, headers=A)).status_code == 422
        unknown = {**bad, "variant": {"model": "m"}, "evaluators": ["not-configured"], "inline": []}
        assert (await client.post("/v1/runs", json=unknown, headers=A)).status_code == 404
        no_kind = {**bad, "variant": {"model": "m"}, "inline": [{"name": "p", "kind": "nope"}]}
        refused = await client.post("/v1/runs", json=no_kind, headers=A)
        assert refused.status_code == 422 and "unknown evaluator kind 'nope'" in refused.json()["detail"]
        missing = {**bad, "dataset": "none", "variant": {"model": "m"}}
        assert (await client.post("/v1/runs", json=missing, headers=A)).status_code == 404
        assert (await client.get("/v1/runs/run-nope", headers=R)).status_code == 404


async def test_a_dataset_from_stored_calls(h: Harness) -> None:
    def stored(call_id: str, messages: list[dict[str, Any]], output: str | None) -> dict[str, Any]:
        return {"call_id": call_id, "model": "m", "messages": messages, "output": output}

    h.platform.calls = [
        stored(
            "c1", [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Where is it?"}], "Here."
        ),
        stored("c2", [{"role": "user", "content": [{"type": "text", "text": "Refund?"}]}], None),
        stored("c3", [{"role": "system", "content": "no user message"}], "x"),
        stored("c4", [{"role": "user", "content": "Where is it?"}], "Here."),
    ]
    async with h.http() as client:
        body = {"app": "support-bot", "limit": 10, "expected_from_output": True}
        built = await client.post("/v1/datasets/sampled/from-calls", json=body, headers=A)
        assert built.status_code == 201, built.text
        found = built.json()
        assert (found["imported"], found["refused"], found["dataset"]["source"]) == (3, 1, "calls")
        assert found["errors"] == [{"line": 3, "error": "call c3 has no user message to use as the input"}]
        assert found["dataset"]["filter"]["origin"] == "application"
        shown = (await client.get("/v1/datasets/sampled", headers=R)).json()["examples"]
        assert [(e["input"], e["expected"]) for e in shown] == [
            ("Where is it?", "Here."),
            ("Refund?", None),
            ("Where is it?", "Here."),  # c4: the same question, another call (its tag differs)
        ]
        assert shown[0]["tags"] == ["call:c1", "model:m"]
        assert [e["source_call_id"] for e in shown] == ["c1", "c2", "c4"]  # what a review queue reads back
    assert h.platform.requests[0] == {"app": "support-bot", "origin": "application", "limit": "1000"}


async def test_a_run_is_taken_over_only_once_its_replica_stopped_and_its_worker_yields(h: Harness) -> None:
    async with h.http() as client:
        await upload(client, jsonl(*ROWS[:3], ROWS[5]))
        run = await h.finished((await start(client))["run_id"])
    assert run.worker == h.executor.worker
    now = datetime.now(UTC)
    fresh = run.model_copy(update={"run_id": "run-fresh", "status": "running", "completed": 0, "worker": "other",
                                   "updated_at": now})  # fmt: skip
    stale = fresh.model_copy(update={"run_id": "run-stale", "updated_at": now - timedelta(hours=1)})
    for other in (fresh, stale):
        h.runs.put("acme", other)
    assert h.executor.take_over() == ["run-stale"]
    taken = await h.finished("run-stale")
    assert (taken.status, taken.completed, taken.worker) == ("completed", 4, h.executor.worker)
    assert h.executor.take_over() == []  # the fresh one is still another replica's

    calls = len(h.platform.requests)
    mine = fresh.model_copy(update={"run_id": "run-mine", "worker": h.executor.worker, "updated_at": now})
    h.runs.put("acme", mine.model_copy(update={"worker": "other", "updated_at": now + timedelta(seconds=5)}))
    left = await h.executor.execute("acme", mine)  # another replica took it over meanwhile: this one yields
    assert left.completed == 0 and len(h.platform.requests) == calls


async def test_datasets_and_versions_are_bounded() -> None:
    h = Harness(max_dataset_versions=2, max_datasets_per_tenant=2)
    async with h.http() as client:
        for name in ("a", "a", "b"):
            assert (await upload(client, jsonl(ROWS[0]), name)).status_code == 201
        third = await upload(client, jsonl(ROWS[0]), "a")
        assert third.status_code == 409 and third.json()["detail"] == "dataset 'a' has 2 versions (the limit)"
        other = await upload(client, jsonl(ROWS[0]), "c")
        assert other.status_code == 409 and other.json()["detail"] == "the tenant has 2 datasets (the limit)"
        assert (await upload(client, jsonl(ROWS[1]), "b")).status_code == 201
