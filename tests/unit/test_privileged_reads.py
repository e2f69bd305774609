"""Privileged reads are on the audit trail before their data is sent (docs/governance.md, "Privileged reads"):
key reads, audit-table reads, tenant keys' reads of stored calls, a review queue's items and item actions, a
dataset's examples; one entry per query, filter names but never their values; a read whose entry Kafka does not
take is refused (503), and so is one before auditing started. An item action that changes state writes its entry
first: refused, it changes nothing (docs/adr/0052)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from llmops_evaluation.bootstrap import EvaluationPorts
from llmops_evaluation.bootstrap import create_app as evaluation_app
from llmops_evaluation.config import EvaluationSettings
from llmops_evaluation.runs.stores import DatasetStore, RunStore
from llmops_feedback.bootstrap import FeedbackPorts
from llmops_feedback.bootstrap import create_app as feedback_app
from llmops_feedback.config import FeedbackSettings
from llmops_feedback.review.state import ReviewState
from llmops_kit.access_audit import DenialAudit
from llmops_kit.audit import AuditTrail
from llmops_kit.auth import TENANT_HEADER, ApiKeyStore
from llmops_kit.kafka.publisher import InMemoryPublisher
from llmops_schemas.v1 import AuditRecorded, ReviewItemUpdated

from tests.unit.feedback.history import InMemoryHistory
from tests.unit.feedback.support import NOW
from tests.unit.feedback.test_review_http import scores_pass
from tests.unit.test_route_matrix import key_of, store
from tests.unit.test_service_edges import AppFactory, governance, served, warehouse

ANALYST = {"Authorization": f"Bearer {key_of('alpha', 'analyst')}"}
ADMIN = {"Authorization": f"Bearer {key_of('alpha', 'admin')}"}
SERVICE = {"Authorization": f"Bearer {key_of('any', 'service')}", TENANT_HEADER: "alpha"}
REVIEWER = {"Authorization": f"Bearer {key_of('alpha', 'reviewer')}"}
SUBJECT = "Priya Raman, passport X1234567"
"""Text of a data subject in what is read: it must never reach an audit entry."""


class Idle:
    """A key source that keeps the store as it is (a followed store, for the lifespan)."""

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None


async def entries(factory: AppFactory, *requests: tuple[str, dict[str, str]]) -> tuple[list[int], list[Any]]:
    """The statuses of ``requests`` (GET path, headers) and the audit entries they left."""
    publisher = InMemoryPublisher()
    app = factory(Path("/nonexistent"), store(DenialAudit(AuditTrail(publisher, source="/tests/reads"))))
    registry = getattr(app.state, "key_registry", None)
    if registry is not None:
        registry._view.mark_caught_up()  # the fake ports' key state: read whole
    async with served(app) as client:
        statuses = [(await client.get(path, headers=headers)).status_code for path, headers in requests]
    return statuses, list(publisher.on(AuditRecorded.topic))


async def test_a_tenant_keys_read_of_stored_calls_is_one_entry_without_filter_values() -> None:
    statuses, audited = await entries(
        warehouse,
        ("/v1/calls?model=gpt-x&text=priya%40example.com", ANALYST),
        ("/v1/calls?cursor=not-issued", ANALYST),  # a later page: the query is recorded already
        ("/v1/events/calls", ANALYST),
        ("/v1/calls", SERVICE),  # a platform service doing its work is not a person reading calls
    )
    assert statuses == [200, 400, 200, 200]
    assert [(e.data.action, e.data.resource.id, e.data.actor.id, e.tenant_id) for e in audited] == [
        ("calls.read", "all", "alpha-analyst", "alpha"),
        ("calls.read", "all", "alpha-analyst", "alpha"),
    ]
    assert audited[0].data.details == {"filters": ["end", "model", "start", "text"]}  # a search's window
    assert "priya" not in json.dumps([e.model_dump(mode="json") for e in audited])


async def test_audit_tables_are_audited_for_every_key_other_tables_are_not() -> None:
    statuses, audited = await entries(
        warehouse,
        ("/v1/events/audit_chain", SERVICE),
        ("/v1/events/api_keys", ANALYST),
        ("/v1/events/cost_records", ANALYST),
        ("/v1/events/drift_reports", ANALYST),
    )
    assert statuses == [200, 200, 200, 200]
    assert [(e.data.action, e.data.resource.type, e.data.resource.id) for e in audited] == [
        ("audit.read", "table", "audit_chain"),
        ("audit.read", "table", "api_keys"),
    ]


async def test_tables_with_text_about_calls_are_audited_for_tenant_keys_as_the_services_own_routes() -> None:
    """The warehouse serves every table: reading dataset examples or review items there is the same read as at
    the evaluation or feedback service, so it is the same entry (else the services' entries could be bypassed)."""
    statuses, audited = await entries(
        warehouse,
        ("/v1/events/dataset_examples", ANALYST),
        ("/v1/events/review_items?call_id=zq-call-7", ANALYST),
        ("/v1/events/feedback", ANALYST),
        ("/v1/events/evaluation_scores?cursor=not-issued", ANALYST),  # a later page: recorded at the first
        ("/v1/events/evaluation_scores", ANALYST),
        ("/v1/events/evaluation_scores", SERVICE),  # evaluation and feedback read scores to do their work
    )
    assert statuses == [200, 200, 200, 400, 200, 200]
    assert [(e.data.action, e.data.resource.id, e.data.actor.id) for e in audited] == [
        ("dataset.read", "dataset_examples", "alpha-analyst"),
        ("review_items.read", "review_items", "alpha-analyst"),
        ("feedback.read", "feedback", "alpha-analyst"),
        ("scores.read", "evaluation_scores", "alpha-analyst"),
    ]
    assert audited[1].data.details == {"filters": ["call_id"]}
    assert "zq-call-7" not in json.dumps([e.model_dump(mode="json") for e in audited])


async def test_reading_keys_is_audited() -> None:
    statuses, audited = await entries(governance, ("/v1/keys", ADMIN))
    assert statuses == [200]
    assert [(e.data.action, e.data.outcome, e.data.actor.id) for e in audited] == [
        ("key.list", "success", "alpha-admin")
    ]


@pytest.mark.parametrize("failure", ["kafka-down", "not-started"])
async def test_a_read_that_cannot_be_audited_is_refused(failure: str) -> None:
    publisher = InMemoryPublisher()
    keys: ApiKeyStore = store(DenialAudit(AuditTrail(publisher, source="/tests/reads")))
    if failure == "kafka-down":
        publisher.failure = ConnectionError("broker unreachable")
    else:
        keys.denials, keys.source = None, Idle()  # a followed store whose access trail is not up yet
    async with served(warehouse(Path("/nonexistent"), keys)) as client:
        answer = await client.get("/v1/calls", headers=ANALYST)
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "5"
    assert "could not be audited" in answer.json()["detail"] and "items" not in answer.json()


def reads_on(trail: InMemoryPublisher, refused: httpx.Response) -> list[tuple[Any, ...]]:
    """The read entries on ``trail`` (action, resource, reader, details), once checked that none holds the subject's
    text and that the read made while Kafka was down (``refused``) was not served."""
    assert refused.status_code == 503 and refused.headers["Retry-After"] == "5" and SUBJECT not in refused.text
    audited = list(trail.on(AuditRecorded.topic))
    assert {(e.data.outcome, e.tenant_id) for e in audited} == {("success", "alpha")}
    assert SUBJECT not in json.dumps([e.model_dump(mode="json") for e in audited])
    return [(e.data.action, e.data.resource.type, e.data.resource.id, e.data.actor.id, e.data.details) for e in audited]


async def test_reading_a_review_queues_items_is_audited_with_filter_names_only() -> None:
    trail = InMemoryPublisher()
    history = InMemoryHistory()
    history.add("alpha", "evaluation_scores", scores_pass("call-0", 0.1), NOW - timedelta(hours=1))
    state = ReviewState()
    state.queues_view.mark_caught_up()
    state.items_view.mark_caught_up()
    keys = store(DenialAudit(AuditTrail(trail, source="/tests/reads")))
    ports = FeedbackPorts(InMemoryPublisher(), keys, clock=lambda: NOW, review_state=state, history=history)
    queue = {"name": "low", "source": "low_score", "params": {"evaluator": "judge", "below": 0.5}}
    async with served(feedback_app(FeedbackSettings(), ports=ports)) as client:
        assert (await client.post("/v1/review/queues", json=queue, headers=ADMIN)).status_code == 201
        item = (await client.post("/v1/review/queues/low/next", headers=REVIEWER)).json()
        review = {"item_id": item["item_id"], "correction": SUBJECT, "comment": SUBJECT}
        assert (await client.post("/v1/review/queues/low/reviews", json=review, headers=REVIEWER)).status_code == 200
        read = await client.get("/v1/review/queues/low/items", params={"status": "done"}, headers=ANALYST)
        assert SUBJECT in read.text  # the read shows what a reviewer wrote about a stored call
        assert (await client.get("/v1/review/queues/low/items", headers=ANALYST)).status_code == 200
        assert (await client.get("/v1/review/queues/low/items", headers=SERVICE)).status_code == 200  # not audited
        assert (await client.get("/v1/review/queues/none/items", headers=ANALYST)).status_code == 404
        assert (await client.get("/v1/review/queues/low", headers=ANALYST)).status_code == 200  # progress only
        trail.failure = ConnectionError("broker unreachable")
        refused = await client.get("/v1/review/queues/low/items", headers=ANALYST)
    assert reads_on(trail, refused) == [
        ("review_item.next", "review_item", "call-0", "alpha-reviewer", {"queue": "low", "change": "claimed"}),
        ("review_item.review", "review_item", "call-0", "alpha-reviewer", {"queue": "low", "change": "reviewed"}),
        ("review_items.read", "review_queue", "low", "alpha-analyst", {"filters": ["status"]}),
        ("review_items.read", "review_queue", "low", "alpha-analyst", {"filters": []}),
    ]


def review_desk(trail: InMemoryPublisher, published: InMemoryPublisher) -> tuple[Any, ReviewState]:
    """The feedback app over ``published`` with an access trail on ``trail``, two low-scored calls to review."""
    history = InMemoryHistory()
    for n in range(2):
        history.add("alpha", "evaluation_scores", scores_pass(f"call-{n}", 0.1), NOW - timedelta(hours=n + 1))
    state = ReviewState()
    state.queues_view.mark_caught_up()
    state.items_view.mark_caught_up()
    keys = store(DenialAudit(AuditTrail(trail, source="/tests/reads")))
    ports = FeedbackPorts(published, keys, clock=lambda: NOW, review_state=state, history=history)
    return feedback_app(FeedbackSettings(), ports=ports), state


LOW_QUEUE = {
    "name": "low",
    "source": "low_score",
    "params": {"evaluator": "judge", "below": 0.5},
    "reviews_per_item": 2,
}


async def test_review_item_actions_are_audited_before_they_change_anything() -> None:
    trail, published = InMemoryPublisher(), InMemoryPublisher()
    app, state = review_desk(trail, published)
    async with served(app) as client:
        assert (await client.post("/v1/review/queues", json=LOW_QUEUE, headers=ADMIN)).status_code == 201
        changes = len(published.on(ReviewItemUpdated.topic))
        trail.failure = ConnectionError("broker unreachable")
        refused = [
            await client.post("/v1/review/queues/low/next", headers=REVIEWER),
            await client.post("/v1/review/queues/low/claim", json={"item_id": "call-0"}, headers=REVIEWER),
            await client.post(
                "/v1/review/queues/low/assign", json={"item_id": "call-1", "assignee": "bob"}, headers=ADMIN
            ),
        ]
        assert [(r.status_code, r.headers.get("Retry-After")) for r in refused] == [(503, "5")] * 3
        assert all("could not be audited" in r.text and "call-" not in r.text for r in refused)
        assert len(published.on(ReviewItemUpdated.topic)) == changes  # no lock taken, nothing assigned
        assert {(i.action, i.locked_by, i.assignee) for i in state.items("alpha", "low").values()} == {
            ("enqueued", None, None)
        }
        trail.failure = None
        item = (await client.post("/v1/review/queues/low/next", headers=REVIEWER)).json()
        assert (item["item_id"], item["locked_by"]) == ("call-0", "alpha-reviewer")
        review = {"item_id": "call-0", "correction": SUBJECT, "comment": SUBJECT}
        assert (await client.post("/v1/review/queues/low/reviews", json=review, headers=REVIEWER)).status_code == 200
        claimed = await client.post("/v1/review/queues/low/claim", json={"item_id": "call-1"}, headers=REVIEWER)
        assert claimed.status_code == 200
        released = await client.post("/v1/review/queues/low/release", json={"item_id": "call-1"}, headers=REVIEWER)
        assert released.status_code == 200
        body = {"item_id": "call-0", "assignee": "alpha-analyst"}
        assigned = await client.post("/v1/review/queues/low/assign", json=body, headers=ADMIN)
        assert SUBJECT in assigned.text  # the answer shows what another reviewer wrote about the call
        taken = await client.post("/v1/review/queues/low/claim", json={"item_id": "call-0"}, headers=REVIEWER)
        assert taken.status_code == 409  # refused by the item's state: nothing was read, nothing audited
        trail.failure = ConnectionError("broker unreachable")
        refused_review = await client.post("/v1/review/queues/low/next", headers=REVIEWER)
    assert reads_on(trail, refused_review) == [
        ("review_item.next", "review_item", "call-0", "alpha-reviewer", {"queue": "low", "change": "claimed"}),
        ("review_item.review", "review_item", "call-0", "alpha-reviewer", {"queue": "low", "change": "reviewed"}),
        ("review_item.claim", "review_item", "call-1", "alpha-reviewer", {"queue": "low", "change": "claimed"}),
        ("review_item.release", "review_item", "call-1", "alpha-reviewer", {"queue": "low", "change": "released"}),
        ("review_item.assign", "review_item", "call-0", "alpha-admin", {"queue": "low", "change": "assigned"}),
    ]


async def test_an_item_change_that_fails_after_its_entry_is_followed_by_a_failure_entry() -> None:
    trail, published = InMemoryPublisher(), InMemoryPublisher()
    app, state = review_desk(trail, published)
    async with served(app) as client:
        assert (await client.post("/v1/review/queues", json=LOW_QUEUE, headers=ADMIN)).status_code == 201
        published.failure = ConnectionError("the review topic's leader is gone")
        answer = await client.post("/v1/review/queues/low/claim", json={"item_id": "call-1"}, headers=REVIEWER)
    assert answer.status_code == 503 and answer.json()["reason"] == "kafka_unavailable"
    assert state.items("alpha", "low")["call-1"].locked_by is None
    entries = [(e.data.action, e.data.resource.id, e.data.outcome) for e in trail.on(AuditRecorded.topic)]
    assert entries == [("review_item.claim", "call-1", "success"), ("review_item.claim", "call-1", "failure")]


async def test_reading_a_datasets_examples_is_audited_per_page_with_counts_not_text() -> None:
    trail = InMemoryPublisher()
    datasets, runs = DatasetStore(), RunStore()
    datasets.mark_caught_up()
    runs.mark_caught_up()
    keys = store(DenialAudit(AuditTrail(trail, source="/tests/reads")))
    ports = EvaluationPorts(InMemoryPublisher(), keys, datasets=datasets, runs=runs)
    rows = b"\n".join(json.dumps({"id": f"q{n}", "input": SUBJECT, "expected": SUBJECT}).encode() for n in (1, 2))
    async with served(evaluation_app(EvaluationSettings(), ports=ports)) as client:
        upload_headers = {**ADMIN, "Content-Type": "application/x-ndjson"}
        assert (await client.post("/v1/datasets/faq", content=rows, headers=upload_headers)).status_code == 201
        first = await client.get("/v1/datasets/faq", headers=ANALYST)
        assert SUBJECT in first.text
        later = await client.get("/v1/datasets/faq", params={"offset": 1, "limit": 1}, headers=ANALYST)
        assert later.status_code == 200  # an offset is the caller's own: every page with examples is a read
        assert (await client.get("/v1/datasets/faq", headers=SERVICE)).status_code == 200  # not audited
        for manifests_only in ("/v1/datasets/faq?limit=0", "/v1/datasets", "/v1/datasets/faq/versions"):
            assert (await client.get(manifests_only, headers=ANALYST)).status_code == 200
        assert (await client.get("/v1/datasets/none", headers=ANALYST)).status_code == 404
        trail.failure = ConnectionError("broker unreachable")
        refused = await client.get("/v1/datasets/faq", headers=ANALYST)
    assert reads_on(trail, refused) == [
        ("dataset.read", "dataset", "faq", "alpha-analyst", {"version": 1, "offset": 0, "examples": 2}),
        ("dataset.read", "dataset", "faq", "alpha-analyst", {"version": 1, "offset": 1, "examples": 1}),
    ]
