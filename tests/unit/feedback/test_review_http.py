"""The review-queue routes on the real app, with the kit's in-memory publisher and a fake warehouse history.

Queues built from each source, the claim/lock/review cycle with its refusals (unknown queue, a lock another
reviewer holds, an expired lock, a second review by the same reviewer, an out-of-range rating), what is
published (item states, the review as feedback, the audit entry), and the state rebuilt from those records.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from llmops_feedback.bootstrap import FeedbackPorts, create_app
from llmops_feedback.config import FeedbackSettings
from llmops_feedback.review.state import ReviewState
from llmops_kit.auth import ApiKeyRecord, ApiKeyStore, hash_key
from llmops_kit.kafka.publisher import InMemoryPublisher
from llmops_schemas.v1 import ReviewItemUpdated, ReviewQueueConfigured
from llmops_schemas.v2 import AuditRecorded, FeedbackReceived
from prometheus_client import REGISTRY

from tests.fixtures.clocks import ManualWallClock
from tests.unit.feedback.history import InMemoryHistory
from tests.unit.feedback.support import NOW

KEYS = {
    "admin": ("llmops_admin_key_for_tenant_acme_000001", "acme", "admin"),
    "ann": ("llmops_reviewer_ann_for_tenant_acme_0001", "acme", "reviewer"),
    "bob": ("llmops_reviewer_bob_for_tenant_acme_0001", "acme", "reviewer"),
    "reader": ("llmops_reader_key_for_tenant_acme_00001", "acme", "reader"),
    "beta": ("llmops_admin_key_for_tenant_beta_000001", "beta", "admin"),
}


def auth(name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {KEYS[name][0]}"}


def scores_pass(call_id: str, score: float) -> dict[str, Any]:
    """A stored ``llmops.evaluation.scored.v2`` pass: the judge's score, and an evaluator that failed."""
    judge = {"name": "judge", "version": "1", "kind": "llm_judge"}
    items = [
        {"score_id": f"s-{call_id}", "evaluator": judge, "metric": "relevance", "score": score},
        {"score_id": f"t-{call_id}", "evaluator": judge, "metric": "tone", "outcome": "timeout"},
    ]
    return {"evaluation_id": f"e-{call_id}", "call_id": call_id, "scores": items}


@pytest.fixture
def history() -> InMemoryHistory:
    found = InMemoryHistory()
    for n, score in enumerate([0.1, 0.9, 0.3, 0.2]):
        data = scores_pass(f"call-{n}", score)
        found.add("acme", "evaluation_scores", data, NOW - timedelta(hours=n + 1))
    found.add("beta", "evaluation_scores", scores_pass("beta-call", 0.0), NOW - timedelta(hours=1))
    return found


@pytest.fixture
def state() -> ReviewState:
    state = ReviewState()
    state.queues_view.mark_caught_up()
    state.items_view.mark_caught_up()
    return state


@pytest.fixture
def clock() -> ManualWallClock:
    return ManualWallClock(NOW)


@pytest.fixture
async def client(
    publisher: InMemoryPublisher, history: InMemoryHistory, state: ReviewState, clock: ManualWallClock
) -> AsyncIterator[httpx.AsyncClient]:
    keys = ApiKeyStore([ApiKeyRecord(id=n, tenant_id=t, role=r, sha256=hash_key(k)) for n, (k, t, r) in KEYS.items()])
    ports = FeedbackPorts(publisher, keys, clock=clock, review_state=state, history=history)
    app = create_app(FeedbackSettings(), ports=ports)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://feedback") as c:
        yield c


LOW_SCORE = {"name": "low", "source": "low_score", "params": {"evaluator": "judge", "below": 0.5},
             "labels": ["fine", "off-topic"], "reviews_per_item": 2, "lock_ttl_s": 60}  # fmt: skip


async def create(client: httpx.AsyncClient, body: dict[str, Any] = LOW_SCORE) -> httpx.Response:
    return await client.post("/v1/review/queues", json=body, headers=auth("admin"))


async def test_a_low_score_queue_holds_the_tenants_calls_scored_below_the_threshold(
    client: httpx.AsyncClient, publisher: InMemoryPublisher
) -> None:
    created = await create(client)
    assert created.status_code == 201, created.text
    assert created.json()["items"] == 3
    items = (await client.get("/v1/review/queues/low/items", headers=auth("reader"))).json()["items"]
    assert [(i["call_id"], i["reason"], i["position"]) for i in items] == [
        ("call-0", "judge relevance 0.1", 0), ("call-2", "judge relevance 0.3", 1), ("call-3", "judge relevance 0.2", 2)
    ]  # fmt: skip
    [queue] = publisher.of(ReviewQueueConfigured)
    assert (queue.item_count, queue.reviews_per_item) == (3, 2)
    [entry] = publisher.of(AuditRecorded)
    assert (entry.action, entry.resource.id) == ("review_queue.create", "low")
    assert publisher.records(ReviewItemUpdated.topic)[0][0] == b"acme:low:call-0"
    assert (await create(client)).status_code == 409
    other = await client.get("/v1/review/queues", headers=auth("beta"))
    assert other.json() == []


async def test_claim_review_and_agreement(client: httpx.AsyncClient, publisher: InMemoryPublisher) -> None:
    await create(client)
    first = await client.post("/v1/review/queues/low/next", headers=auth("ann"))
    assert first.status_code == 200 and first.json()["locked_by"] == "ann"
    item = first.json()["item_id"]
    held = await client.post("/v1/review/queues/low/claim", json={"item_id": item}, headers=auth("bob"))
    assert held.status_code == 409 and held.json()["reason"] == "locked"
    assert "locked by another reviewer" in held.json()["detail"]
    review = {"item_id": item, "verdict": "reject", "label": "off-topic", "correction": "Better answer."}
    done = await client.post("/v1/review/queues/low/reviews", json=review, headers=auth("ann"))
    assert done.status_code == 200, done.text
    again = await client.post("/v1/review/queues/low/claim", json={"item_id": item}, headers=auth("ann"))
    assert again.status_code == 409 and again.json()["reason"] == "already_reviewed"
    second = await client.post("/v1/review/queues/low/next", headers=auth("bob"))
    assert second.json()["item_id"] == item  # the first item still wants a second reviewer
    await client.post("/v1/review/queues/low/reviews", json={**review, "label": "fine"}, headers=auth("bob"))
    view = (await client.get("/v1/review/queues/low", headers=auth("reader"))).json()
    assert view["progress"] | {"fraction_done": 0} == {"items": 3, "open": 2, "locked": 0, "done": 1, "reviews": 2,
                                                       "reviews_wanted": 6, "fraction_done": 0}  # fmt: skip
    assert {a["answer"]: a["observed"] for a in view["agreement"]} == {"verdict": 1.0, "label": 0.0}
    feedback = [f for f in publisher.of(FeedbackReceived) if f.user_id == "ann"]
    assert {(f.kind, f.source) for f in feedback} == {("thumbs", "review-queue"), ("label", "review-queue"),
                                                       ("correction", "review-queue")}  # fmt: skip


async def test_an_expired_lock_cannot_be_used_to_review(client: httpx.AsyncClient, clock: ManualWallClock) -> None:
    await create(client)
    item = (await client.post("/v1/review/queues/low/next", headers=auth("ann"))).json()["item_id"]
    clock.now = NOW + timedelta(seconds=61)
    late = await client.post("/v1/review/queues/low/reviews", json={"item_id": item, "verdict": "approve"},
                             headers=auth("ann"))  # fmt: skip
    assert late.status_code == 409 and late.json()["reason"] == "lock_expired"
    taken = await client.post("/v1/review/queues/low/claim", json={"item_id": item}, headers=auth("bob"))
    assert taken.status_code == 200 and taken.json()["locked_by"] == "bob"


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        ({"verdict": "approve", "rating": 6}, 422, "less than or equal to 5"),
        ({"verdict": "approve", "rating": 0}, 422, "greater than or equal to 1"),
        ({"comment": "only a comment"}, 422, "a verdict, a label, a rating or a correction"),
        ({"label": "great"}, 422, "not one of fine, off-topic"),
        ({"verdict": "maybe"}, 422, "approve"),
    ],
)
async def test_bad_reviews_are_4xx(client: httpx.AsyncClient, body: dict[str, Any], status: int, needle: str) -> None:
    await create(client)
    item = (await client.post("/v1/review/queues/low/next", headers=auth("ann"))).json()["item_id"]
    answer = await client.post("/v1/review/queues/low/reviews", json={"item_id": item, **body}, headers=auth("ann"))
    assert answer.status_code == status, answer.text
    assert needle in answer.text


async def test_unknown_queue_and_item_and_permissions(client: httpx.AsyncClient) -> None:
    missing = await client.post("/v1/review/queues/nope/next", headers=auth("ann"))
    assert missing.status_code == 404 and missing.json()["reason"] == "unknown_queue"
    assert (await client.get("/v1/review/queues/nope", headers=auth("reader"))).status_code == 404
    await create(client)
    unknown = await client.post("/v1/review/queues/low/claim", json={"item_id": "call-x"}, headers=auth("ann"))
    assert unknown.status_code == 404 and unknown.json()["reason"] == "unknown_item"
    assert (
        await client.post("/v1/review/queues", json=LOW_SCORE | {"name": "b"}, headers=auth("ann"))
    ).status_code == 403
    assert (await client.post("/v1/review/queues/low/next", headers=auth("reader"))).status_code == 403


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        ({"source": "drift"}, 422, "drift reports"),
        ({"source": "nope"}, 422, "unknown source"),
        ({"params": {"below": 0.5}}, 422, "params.evaluator"),
        ({"params": {"evaluator": "judge", "below": "low"}}, 422, "params.below"),
        ({"params": {"evaluator": "judge", "below": 1, "start": "2026-01-01"}}, 422, "time zone"),
        ({"max_items": 6000}, 413, "at most 5000"),
        ({"reviews_per_item": 4}, 422, "reviews_per_item"),
    ],
)
async def test_bad_queues_are_4xx(client: httpx.AsyncClient, body: dict[str, Any], status: int, needle: str) -> None:
    answer = await create(client, LOW_SCORE | body)
    assert answer.status_code == status, answer.text
    assert needle in answer.text


async def test_other_sources(client: httpx.AsyncClient, history: InMemoryHistory) -> None:
    history.add("acme", "feedback", {"feedback_id": "f1", "call_id": "call-7", "kind": "thumbs", "value": 0}, NOW)
    history.add("acme", "feedback", {"feedback_id": "f2", "call_id": "call-8", "kind": "rating", "value": 4}, NOW)
    for n in range(20):
        history.add("acme", "calls", {"call_id": f"s-{n}", "app": "chat"}, NOW - timedelta(minutes=n))
    negative = await create(client, {"name": "neg", "source": "negative_feedback"})
    assert negative.json()["items"] == 1
    sample = {"name": "s", "source": "sample", "params": {"size": 5, "seed": "x"}}
    first = await create(client, sample)
    assert first.json()["items"] == 5
    drawn = [
        i["call_id"] for i in (await client.get("/v1/review/queues/s/items", headers=auth("reader"))).json()["items"]
    ]
    again = await create(client, sample | {"name": "s2"})
    assert again.json()["items"] == 5
    redrawn = [
        i["call_id"] for i in (await client.get("/v1/review/queues/s2/items", headers=auth("reader"))).json()["items"]
    ]
    assert drawn == redrawn  # the same seed draws the same calls
    dataset = {
        "name": "d",
        "source": "dataset",
        "params": {"dataset": "golden", "version": "3", "call_ids": ["a", "b", "a"]},
    }
    made = await create(client, dataset)
    assert made.json()["items"] == 2
    assert made.json()["queue"]["params"]["dataset"] == "golden"


def _dataset_version(
    history: InMemoryHistory, version: int, digest: str, calls: list[str | None], at: datetime
) -> None:
    """A stored dataset version as the evaluation service publishes it: the examples, then the manifest."""
    for position, call_id in enumerate(calls):
        example = {"dataset": "golden", "version": version, "digest": digest, "example_id": f"ex-{position}",
                   "position": position, "input": "Where is my parcel?", "tags": []}  # fmt: skip
        if call_id is not None:
            example["source_call_id"] = call_id
        history.add("acme", "dataset_examples", example, at - timedelta(milliseconds=len(calls) - position))
    manifest = {"name": "golden", "version": version, "digest": digest, "examples": len(calls), "source": "calls"}
    history.add("acme", "dataset_versions", manifest, at)


async def test_a_dataset_source_reads_the_source_calls_of_a_version_through_the_warehouse(
    client: httpx.AsyncClient, history: InMemoryHistory
) -> None:
    _dataset_version(history, 1, "a" * 64, ["old-1", "old-2"], NOW - timedelta(days=30))  # older than 7 days
    _dataset_version(history, 2, "b" * 64, ["c-2", None, "c-0", "c-2"], NOW - timedelta(hours=2))
    old = {"dataset": "golden", "version": 2, "digest": "b" * 64, "example_id": "ex-9",
           "position": 9, "tags": ["call:c-9"]}  # fmt: skip  # stored before source_call_id: the tag names it
    history.add("acme", "dataset_examples", old, NOW - timedelta(hours=2, milliseconds=9))
    history.add("beta", "dataset_versions", {"name": "golden", "version": 3, "digest": "c" * 64}, NOW)

    latest = await create(client, {"name": "d-latest", "source": "dataset", "params": {"dataset": "golden"}})
    assert latest.status_code == 201, latest.text
    items = (await client.get("/v1/review/queues/d-latest/items", headers=auth("reader"))).json()["items"]
    assert [i["call_id"] for i in items] == ["c-2", "c-0", "c-9"]  # dataset order, one item per call
    assert {i["reason"] for i in items} == {"dataset golden@2"}
    first = await create(client, {"name": "d-1", "source": "dataset", "params": {"dataset": "golden@1"}})
    assert first.json()["items"] == 2
    for params, needle in (
        ({"dataset": "golden@4"}, "no version 4 of dataset 'golden'"),
        ({"dataset": "golden@two"}, "name@version"),
        ({"dataset": "other"}, "no dataset 'other'"),
    ):
        refused = await create(client, {"name": "d-bad", "source": "dataset", "params": params})
        assert refused.status_code == 422 and needle in refused.text, refused.text


async def test_warehouse_unavailable_is_a_503_with_retry_after(
    client: httpx.AsyncClient, history: InMemoryHistory
) -> None:
    history.unavailable = True
    answer = await create(client)
    assert answer.status_code == 503 and answer.headers["retry-after"] == "7"


async def test_the_state_is_rebuilt_from_the_published_records(
    client: httpx.AsyncClient, publisher: InMemoryPublisher, state: ReviewState
) -> None:
    await create(client)
    item = (await client.post("/v1/review/queues/low/next", headers=auth("ann"))).json()["item_id"]
    await client.post("/v1/review/queues/low/reviews", json={"item_id": item, "rating": 2}, headers=auth("ann"))
    rebuilt = ReviewState()
    for key, value in publisher.records(ReviewQueueConfigured.topic):
        rebuilt.queues_view.apply_record(key, value)
    for key, value in reversed(publisher.records(ReviewItemUpdated.topic)):  # read in another order than written
        rebuilt.items_view.apply_record(key, value)
    [queue] = rebuilt.queues("acme")
    assert queue.name == "low"
    assert list(rebuilt.items("acme", "low")) == list(state.items("acme", "low")) == ["call-0", "call-2", "call-3"]
    reviewed = rebuilt.items("acme", "low")[item]
    assert (reviewed.status, reviewed.reviews[0].rating, reviewed.revision) == ("open", 2, 2)


async def test_not_caught_up_is_a_503(publisher: InMemoryPublisher) -> None:
    keys = ApiKeyStore([ApiKeyRecord(id="admin", tenant_id="acme", role="admin", sha256=hash_key(KEYS["admin"][0]))])
    app = create_app(FeedbackSettings(), ports=FeedbackPorts(publisher, keys, review_state=ReviewState()))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://feedback") as c:
        answer = await c.get("/v1/review/queues", headers=auth("admin"))
    assert answer.status_code == 503 and answer.headers["retry-after"]


def _sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_changes_refusals_reviews_and_export_rows_are_counted(client: httpx.AsyncClient) -> None:
    before = {
        "enqueued": _sample("llmops_review_item_changes_total", action="enqueued"),
        "locked": _sample("llmops_review_refused_total", reason="locked"),
        "reviews": _sample("llmops_reviews_total"),
    }
    await create(client)
    item = (await client.post("/v1/review/queues/low/next", headers=auth("ann"))).json()["item_id"]
    await client.post("/v1/review/queues/low/claim", json={"item_id": item}, headers=auth("bob"))
    await client.post(
        "/v1/review/queues/low/reviews", json={"item_id": item, "verdict": "approve"}, headers=auth("ann")
    )
    assert _sample("llmops_review_item_changes_total", action="enqueued") - before["enqueued"] == 3
    assert _sample("llmops_review_refused_total", reason="locked") - before["locked"] == 1
    assert _sample("llmops_reviews_total") - before["reviews"] == 1
    exposed = (await client.get("/metrics")).text
    assert 'llmops_review_item_changes_total{action="claimed"}' in exposed
