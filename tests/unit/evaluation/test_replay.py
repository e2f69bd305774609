"""Replays with fakes: a list of calls as the source, the kit's in-memory publisher, the real manager and routes.

* scores carry ``replay_id`` under pass ids of their own (beside the online pass), failed and platform calls
  are read but not judged;
* each checkpoint is published after its batch's scores, and a batch whose scores Kafka refused is not
  checkpointed;
* a replica that starts resumes a running replay from its checkpoint: the evaluator judges only the rest;
* the API: start, progress, list, cancel, and every refusal (404, 409, 422, 429, 503).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from aiokafka.errors import KafkaConnectionError
from llmops_evaluation.bootstrap import EvaluationPorts, create_app
from llmops_evaluation.config import EvaluationSettings
from llmops_evaluation.evaluators import build_evaluator
from llmops_evaluation.handlers import pass_id
from llmops_evaluation.heuristics import KINDS, Answer, Verdict
from llmops_evaluation.heuristics.text import Refusal
from llmops_evaluation.replay import http as replay_http
from llmops_evaluation.replay.runner import RateLimit
from llmops_evaluation.replay.sources import call_of_row
from llmops_evaluation.replay.spec import ReplaySpec
from llmops_evaluation.replay.store import ReplayStore
from llmops_kit.audit import Actor
from llmops_kit.kafka.publisher import InMemoryPublisher
from llmops_schemas.envelope import CloudEvent
from llmops_schemas.v1 import ReplayCheckpointed
from llmops_schemas.v2 import AuditRecorded, CallRecorded, EvaluationScored

from tests.unit.evaluation.calls import STARTED, call, configured
from tests.unit.evaluation.replays import ListSources, manager_of
from tests.unit.evaluation.test_http import ADMIN, KEYS, READER, auth

JUDGED: list[str] = []


class Counting(Refusal):
    """A kind that records every call it judges (what a restarted replay must not judge again)."""

    kind = "counting"

    @classmethod
    def build(cls, params: Any) -> Callable[[Answer], list[Verdict]]:
        def judge(answer: Answer) -> list[Verdict]:
            JUDGED.append(answer.text)
            return [Verdict(metric="counted", score=1.0, passed=True)]

        return judge


@pytest.fixture(autouse=True)
def counting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(KINDS, "counting", Counting)  # type: ignore[index]
    JUDGED.clear()


def calls(n: int, tenant: str = "acme") -> list[CloudEvent[CallRecorded]]:
    return [call(tenant, call_id=f"call-{i:04d}", output=f"answer {i}") for i in range(n)]


async def until(condition: Callable[[], bool]) -> None:
    async def wait() -> None:
        while not condition():
            await asyncio.sleep(0.005)

    await asyncio.wait_for(wait(), 10)


async def finished(store: ReplayStore, replay_id: str, tenant: str = "acme") -> ReplayCheckpointed:
    async def done() -> ReplayCheckpointed:
        while (state := store.get(tenant, replay_id)) is None or state.status == "running":
            await asyncio.sleep(0.01)
        return state

    return await asyncio.wait_for(done(), 10)


def spec(**fields: Any) -> dict[str, Any]:
    window = {"start": "2026-03-14T00:00:00Z", "end": "2026-03-15T00:00:00Z"}
    return {"evaluators": [{"name": "new-count", "kind": "counting"}], **window, "batch_size": 4, **fields}


@pytest.fixture
async def api() -> AsyncIterator[tuple[httpx.AsyncClient, ListSources, InMemoryPublisher, ReplayStore]]:
    publisher = InMemoryPublisher()
    items = [
        *calls(9),
        call("acme", call_id="call-failed", status="error", error={"type": "timeout", "message": "up"}, choices=[]),
    ]
    items.append(call("acme", call_id="call-judge", origin="platform"))
    sources = ListSources(items)
    manager, store = manager_of(sources, publisher, max_per_tenant=1)
    store.mark_caught_up()
    app = create_app(EvaluationSettings(), ports=EvaluationPorts(publisher, KEYS, replays=manager))
    setattr(app.state, replay_http.STATE_KEY, manager)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://evaluation") as client:
        yield client, sources, publisher, store
    await manager.stop()


async def test_a_replay_scores_beside_the_online_pass_and_checkpoints_after_each_batch(api: Any) -> None:
    client, _, publisher, store = api
    started = await client.post("/v1/replays", json=spec(replay_id="rp-1"), headers=auth(ADMIN))
    assert started.status_code == 201, started.text
    assert started.json()["status"] == "running" and started.json()["evaluators"][0]["version"].startswith("1+")
    state = await finished(store, "rp-1")

    assert (state.status, state.processed, state.scored) == ("completed", 11, 9)
    scored = publisher.of(EvaluationScored)
    assert len(scored) == 9 and {s.replay_id for s in scored} == {"rp-1"}
    assert sorted(JUDGED) == sorted(f"answer {i}" for i in range(9))
    online = pass_id("acme", calls(1)[0].data, [])
    assert scored[0].evaluation_id != online
    # Every checkpoint follows the scores of the calls it counts.
    seen = 0
    for event in publisher.events:
        if isinstance(event.data, EvaluationScored):
            seen += 1
        elif isinstance(event.data, ReplayCheckpointed) and event.data.status == "running" and event.data.processed:
            assert seen >= min(event.data.scored, 9), event.data
    progress = (await client.get("/v1/replays/rp-1", headers=auth(READER))).json()
    assert (progress["status"], progress["processed"], progress["scored"]) == ("completed", 11, 9)
    listed = (await client.get("/v1/replays", headers=auth(READER))).json()["items"]
    assert [r["replay_id"] for r in listed] == ["rp-1"]
    [audit] = publisher.of(AuditRecorded)
    assert (audit.action, audit.resource.id) == ("replay.start", "rp-1")


async def test_a_batch_whose_scores_kafka_refused_is_not_checkpointed() -> None:
    publisher = InMemoryPublisher()
    sources = ListSources(calls(6))
    manager, store = manager_of(sources, publisher)
    store.mark_caught_up()
    sources.gate = asyncio.Event()
    state = await manager.create("acme", _spec_model(batch_size=3), _actor())
    publisher.failure = KafkaConnectionError()
    tried = publisher.attempts
    sources.gate.set()
    await until(lambda: publisher.attempts > tried)  # the first batch's scores were refused
    assert [s.processed for s in publisher.of(ReplayCheckpointed)] == [0]
    publisher.failure = None
    done = await finished(store, state.replay_id)
    assert (done.status, done.processed) == ("completed", 6)
    await manager.stop()


async def test_a_replica_resumes_a_running_replay_from_its_checkpoint() -> None:
    store = ReplayStore()
    at = ReplayCheckpointed.model_validate(
        {**_first("rp-resume"), "processed": 8, "scored": 8, "cursor": "8", "batch_size": 4}
    )
    store.apply(CloudEvent.wrap(at, source="/t", tenant_id="acme"))
    sources = ListSources(calls(12))
    manager, _ = manager_of(sources, InMemoryPublisher(), store)
    await manager.start()
    store.mark_caught_up()
    done = await finished(store, "rp-resume")
    assert (done.status, done.processed, done.scored) == ("completed", 12, 12)
    assert sorted(JUDGED) == sorted(f"answer {i}" for i in range(8, 12))
    assert sources.opened[0].cursor == "8"
    await manager.stop()


async def test_refusals(api: Any) -> None:
    client, sources, _, _ = api
    sources.gate = asyncio.Event()  # the first replay stays running
    post = lambda body, key=ADMIN: client.post("/v1/replays", json=body, headers=auth(key))  # noqa: E731
    assert (await post(spec(evaluators=[{"name": "nope"}]))).status_code == 404
    bad = await post(spec(evaluators=[{"name": "x", "kind": "length", "params": {"max_chars": -1}}]))
    assert bad.status_code == 422 and "max_chars" in bad.json()["detail"]
    assert (await post(spec(end="2026-03-13T00:00:00Z"))).status_code == 422
    assert (await post(spec(replay_id="rp-a"), READER)).status_code == 403
    assert (await post(spec(replay_id="rp-a"))).status_code == 201
    assert (await post(spec(replay_id="rp-a"))).status_code == 409
    limited = await post(spec(replay_id="rp-b"))
    assert limited.status_code == 429 and limited.headers["retry-after"] == "5"
    configured_one = spec(replay_id="rp-c", evaluators=[{"name": "answer-length"}])
    assert (await post(configured_one)).status_code == 429
    cancelled = await client.post("/v1/replays/rp-a/cancel", headers=auth(ADMIN))
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    reused = (await post(configured_one)).json()
    assert reused["evaluators"][0]["kind"] == "length" and reused["evaluators"][0]["params"] == {"max_chars": 10}
    assert (await client.get("/v1/replays/rp-x", headers=auth(READER))).status_code == 404


async def test_without_a_manager_the_routes_answer_503() -> None:
    app = create_app(EvaluationSettings(), ports=EvaluationPorts(InMemoryPublisher(), KEYS))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://e") as client:
        response = await client.get("/v1/replays", headers=auth(READER))
    assert response.status_code == 503


async def test_the_rate_limit_spaces_batches() -> None:
    now = [0.0]
    limit = RateLimit(100, clock=lambda: now[0])
    await limit.take(50)  # the first batch goes at once
    waited = asyncio.get_running_loop().time()
    await limit.take(1)  # the next one waits out the first's half second
    assert asyncio.get_running_loop().time() - waited >= 0.45


def test_a_warehouse_row_is_the_call_it_was_stored_from() -> None:
    event = call("acme", call_id="call-row", output="hi")
    row = {
        **event.data.model_dump(mode="json"),
        "event_id": event.id,
        "tenant_id": "acme",
        "output": "hi",
        "finish_reason": "stop",
        "source": "/services/ingest",
        "key_id": None,
        "received_at": "2026-03-14T09:26:54Z",
        "ingested_at": "2026-03-14T09:26:55Z",
        "a_column_added_later": 1,  # the row may grow: only the call event's own fields are read
    }
    again = call_of_row(row)
    assert (again.id, again.tenant_id, again.data) == (event.id, "acme", event.data)


def _first(replay_id: str) -> dict[str, Any]:
    return {
        "replay_id": replay_id,
        "evaluators": [{"name": "new-count", "kind": "counting", "version": _version()}],
        "source": "warehouse",
        "start": "2026-03-14T00:00:00Z",
        "end": "2026-03-15T00:00:00Z",
        "rate_limit_per_s": 1000,
        "batch_size": 4,
        "status": "running",
        "created_at": STARTED,
        "updated_at": STARTED,
    }


def _version() -> str:
    return build_evaluator(configured("new-count", "counting", app="*")).version


def _spec_model(**fields: Any) -> ReplaySpec:
    return ReplaySpec.model_validate(spec(**fields))


def _actor() -> Actor:
    return Actor(key_id="admin")
