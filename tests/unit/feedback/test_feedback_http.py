"""``POST /v1/feedback`` and ``/v1/feedback/batch`` in process: the real app, the kit's in-memory publisher."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from aiokafka.errors import KafkaConnectionError
from llmops_feedback.adapters import WindowedSubmissionLimit
from llmops_feedback.config import FeedbackSettings
from llmops_kit.feedback_tokens import TOKEN_HEADER
from llmops_kit.kafka.publisher import InMemoryPublisher
from llmops_schemas.v2 import FeedbackReceived
from prometheus_client import REGISTRY

from tests.unit.feedback.support import NOW, bearer, item, signer

PROBLEM = "application/problem+json"
MakeClient = Callable[..., httpx.AsyncClient]


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    return body


def token_for(call_id: str, tenant: str = "acme", **kwargs: Any) -> dict[str, str]:
    return {TOKEN_HEADER: signer(**kwargs).sign(tenant, call_id)}


# --- reviewers with a key -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"kind": "thumbs", "value": 0}, id="thumbs-down"),
        pytest.param({"kind": "rating", "value": 4, "comment": "good, a bit long"}, id="rating"),
        pytest.param({"kind": "label", "value": None, "label": "off-topic"}, id="label"),
        pytest.param({"kind": "comment", "value": None, "comment": "cites the wrong policy"}, id="comment"),
        pytest.param({"kind": "correction", "value": None, "correction": "Click 'Forgot password'."}, id="correction"),
    ],
)
async def test_every_kind_is_published_as_v2_under_the_keys_tenant(
    client: httpx.AsyncClient, publisher: InMemoryPublisher, fields: dict[str, Any]
) -> None:
    body = item(session_id="sess-9", trace_id="4bf92f3577b34da6a3ce929d0e0e4736", **fields)
    response = await client.post("/v1/feedback", json=body, headers=bearer("reviewer"))
    assert response.status_code == 202, response.text
    [event] = publisher.events
    assert response.json() == {"index": 0, "feedback_id": "fb-1", "call_id": "chatcmpl-1", "event_id": event.id}
    assert publisher.topics == ["llmops.feedback.received"]
    assert (event.type, event.tenant_id, event.key_id, event.subject) == (
        "llmops.feedback.received.v2",
        "acme",
        "reviewer-key",
        "chatcmpl-1",
    )
    assert event.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert event.time == NOW - timedelta(seconds=5)  # given_at: a retry has the same time and id
    feedback = publisher.of(FeedbackReceived)[0]
    assert (feedback.kind, feedback.session_id, feedback.source) == (fields["kind"], "sess-9", "api")


async def test_a_retry_is_the_same_event_and_another_tenant_or_version_is_not(
    client: httpx.AsyncClient, publisher: InMemoryPublisher
) -> None:
    first = await client.post("/v1/feedback", json=item(), headers=bearer("reviewer"))
    retry = await client.post("/v1/feedback", json=item(), headers=bearer("writer"))
    other_tenant = await client.post("/v1/feedback", json=item(), headers=bearer("other"))
    changed = await client.post(
        "/v1/feedback", json=item(value=0, given_at=NOW.isoformat()), headers=bearer("reviewer")
    )
    ids = [r.json()["event_id"] for r in (first, retry, other_tenant, changed)]
    assert ids[0] == ids[1]
    assert len({ids[0], ids[2], ids[3]}) == 3
    assert [e.tenant_id for e in publisher.events] == ["acme", "acme", "beta", "acme"]


async def test_a_call_of_another_tenant_is_feedback_in_the_callers_tenant(
    client: httpx.AsyncClient, publisher: InMemoryPublisher
) -> None:
    """The tenant is the key's: naming one in the body is refused, and a call id only ever joins within it."""
    refused = await client.post("/v1/feedback", json=item(tenant_id="beta"), headers=bearer("reviewer"))
    assert assert_problem(refused, 422)["errors"][0]["loc"] == ["tenant_id"]
    accepted = await client.post("/v1/feedback", json=item(call_id="a-call-of-beta"), headers=bearer("reviewer"))
    assert accepted.status_code == 202
    assert [e.tenant_id for e in publisher.events] == ["acme"]


@pytest.mark.parametrize(
    ("fields", "loc", "message"),
    [
        pytest.param({"kind": "rating", "value": 6}, ["value"], "less than or equal to 5", id="rating-over-5"),
        pytest.param({"kind": "rating", "value": 0}, [], "whole value from 1 to 5", id="rating-0"),
        pytest.param({"kind": "rating", "value": 3.5}, [], "whole value from 1 to 5", id="rating-half"),
        pytest.param({"kind": "thumbs", "value": 0.5}, [], "value 1 (up) or 0 (down)", id="thumbs-half"),
        pytest.param({"kind": "stars"}, ["kind"], "'thumbs', 'rating', 'label'", id="unknown-kind"),
        pytest.param({"kind": "label", "value": None}, [], "label feedback needs 'label'", id="label-missing"),
        pytest.param({"label": "x"}, [], "only label feedback carries it", id="label-on-thumbs"),
        pytest.param({"comment": "x" * 16_385}, ["comment"], "at most 16384 characters", id="comment-too-long"),
        pytest.param({"feedback_id": None}, ["feedback_id"], "Field required", id="no-feedback-id"),
        pytest.param({"call_id": "has space"}, ["call_id"], "pattern", id="bad-call-id"),
        pytest.param({"given_at": "2026-03-01T12:00:00"}, ["given_at"], "timezone", id="naive-given-at"),
        pytest.param(
            {"given_at": (NOW + timedelta(minutes=10)).isoformat()}, ["given_at"], "in the future", id="future"
        ),
        pytest.param({"given_at": (NOW - timedelta(days=400)).isoformat()}, ["given_at"], "older", id="too-old"),
        pytest.param({"trace_id": "not-a-trace"}, ["trace_id"], "32 lower-case hex", id="bad-trace-id"),
        pytest.param({"unknown": 1}, ["unknown"], "Extra inputs", id="unknown-field"),
    ],
)
async def test_bad_input_is_a_422_naming_the_field(
    client: httpx.AsyncClient, publisher: InMemoryPublisher, fields: dict[str, Any], loc: list[Any], message: str
) -> None:
    response = await client.post("/v1/feedback", json=item(**fields), headers=bearer("reviewer"))
    [error] = assert_problem(response, 422)["errors"]
    assert error["loc"] == loc
    assert message in error["msg"]
    assert publisher.events == []


@pytest.mark.parametrize(
    ("content", "status", "detail"),
    [(b"{", 400, "malformed JSON"), (b"\xff", 400, "not valid UTF-8"), (b"[1]", 422, "not valid")],
)
async def test_a_body_that_is_no_item_is_refused(
    client: httpx.AsyncClient, content: bytes, status: int, detail: str
) -> None:
    headers = {**bearer("reviewer"), "Content-Type": "application/json"}
    response = await client.post("/v1/feedback", content=content, headers=headers)
    assert detail in assert_problem(response, status)["detail"]


@pytest.mark.parametrize(("headers", "status"), [({}, 401), (bearer("reader"), 403)])
async def test_a_key_needs_feedback_write(client: httpx.AsyncClient, headers: dict[str, str], status: int) -> None:
    response = await client.post("/v1/feedback", json=item(), headers=headers)
    assert_problem(response, status)


async def test_kafka_down_is_a_503_with_retry_after(client: httpx.AsyncClient, publisher: InMemoryPublisher) -> None:
    publisher.failure = KafkaConnectionError("down")
    response = await client.post("/v1/feedback", json=item(), headers=bearer("reviewer"))
    body = assert_problem(response, 503)
    assert response.headers["Retry-After"] == "5"
    assert [i["feedback_id"] for i in body["not_accepted"]] == ["fb-1"]


# --- end users with the gateway's token ------------------------------------------------------------


def counted(via: str, outcome: str) -> float:
    return REGISTRY.get_sample_value("llmops_feedback_items_total", {"via": via, "outcome": outcome}) or 0.0


async def test_a_token_lets_its_holder_rate_its_call_as_an_end_user(
    client: httpx.AsyncClient, publisher: InMemoryPublisher
) -> None:
    before = counted("token", "accepted"), counted("token", "rejected")
    response = await client.post("/v1/feedback", json=item(user_id="u-7"), headers=token_for("chatcmpl-1"))
    refused = await client.post("/v1/feedback", json=item(value=3), headers=token_for("chatcmpl-1"))
    assert response.status_code == 202, response.text
    assert refused.status_code == 422
    assert (counted("token", "accepted"), counted("token", "rejected")) == (before[0] + 1, before[1] + 1)
    [event] = publisher.events
    assert (event.tenant_id, event.key_id) == ("acme", None)
    assert (event.data.source, event.data.user_id) == ("end-user", "u-7")


@pytest.mark.parametrize(
    ("headers", "status", "reason", "detail"),
    [
        pytest.param(token_for("chatcmpl-2"), 403, None, "another call", id="other-call"),
        pytest.param(
            token_for("chatcmpl-1", key=b"another-secret-of-at-least-32-bytes-000"),
            401,
            "forged",
            "signature",
            id="forged",
        ),
        pytest.param(
            token_for("chatcmpl-1", ttl_s=60, at=NOW - timedelta(minutes=2)), 401, "expired", "expired", id="expired"
        ),
        pytest.param({TOKEN_HEADER: "v1.bm9wZQ"}, 401, "malformed", "v1.<claims>.<signature>", id="malformed"),
        pytest.param({TOKEN_HEADER: "x" * 2000}, 401, "malformed", "longer than", id="oversized"),
        pytest.param({**token_for("chatcmpl-1"), **bearer("reviewer")}, 400, None, "not both", id="token-and-key"),
    ],
)
async def test_a_bad_token_is_refused_precisely(
    client: httpx.AsyncClient,
    publisher: InMemoryPublisher,
    headers: dict[str, str],
    status: int,
    reason: str | None,
    detail: str,
) -> None:
    response = await client.post("/v1/feedback", json=item(), headers=headers)
    body = assert_problem(response, status)
    assert detail in body["detail"]
    assert body.get("reason") == reason
    assert publisher.events == []


async def test_a_tampered_token_is_forged(client: httpx.AsyncClient) -> None:
    version, _, signature = token_for("chatcmpl-1")[TOKEN_HEADER].split(".")
    other_claims = token_for("chatcmpl-2")[TOKEN_HEADER].split(".")[1]
    tampered = f"{version}.{other_claims}.{signature}"
    response = await client.post("/v1/feedback", json=item(call_id="chatcmpl-2"), headers={TOKEN_HEADER: tampered})
    assert assert_problem(response, 401)["reason"] == "forged"


async def test_a_token_holder_may_not_claim_another_source(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/feedback", json=item(source="review-queue"), headers=token_for("chatcmpl-1"))
    assert assert_problem(response, 422)["errors"][0]["loc"] == ["source"]


async def test_tokens_without_a_secret_are_503_and_keys_still_work(make_client: MakeClient) -> None:
    async with make_client(verifier=None) as client:
        refused = await client.post("/v1/feedback", json=item(), headers=token_for("chatcmpl-1"))
        accepted = await client.post("/v1/feedback", json=item(), headers=bearer("reviewer"))
    assert "LLMOPS_FEEDBACK_TOKEN_SECRET" in assert_problem(refused, 503)["detail"]
    assert accepted.status_code == 202


async def test_a_call_gets_a_bounded_number_of_token_submissions(make_client: MakeClient) -> None:
    limit = WindowedSubmissionLimit(2, 60.0, 100)
    async with make_client(submissions=limit) as client:
        answers = [
            await client.post("/v1/feedback", json=item(feedback_id=f"fb-{n}"), headers=token_for("chatcmpl-1"))
            for n in range(3)
        ]
        other_call = await client.post("/v1/feedback", json=item(call_id="chatcmpl-2"), headers=token_for("chatcmpl-2"))
        reviewer = await client.post("/v1/feedback", json=item(), headers=bearer("reviewer"))
    assert [a.status_code for a in answers] == [202, 202, 429]
    assert 1 <= int(answers[2].headers["Retry-After"]) <= 60
    assert (other_call.status_code, reviewer.status_code) == (202, 202)


async def test_browsers_of_configured_origins_may_post_with_the_token_header(make_client: MakeClient) -> None:
    settings = FeedbackSettings(cors_origins=["https://app.example"])
    preflight_headers = {
        "Origin": "https://app.example",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": f"content-type,{TOKEN_HEADER.lower()}",
    }
    async with make_client(settings=settings) as client:
        allowed = await client.options("/v1/feedback", headers=preflight_headers)
        other = await client.options("/v1/feedback", headers={**preflight_headers, "Origin": "https://evil.example"})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://app.example"
    assert TOKEN_HEADER.lower() in allowed.headers["access-control-allow-headers"].lower()
    assert other.status_code == 400


# --- batches ---------------------------------------------------------------------------------------


async def test_a_batch_reports_each_item_by_index(client: httpx.AsyncClient, publisher: InMemoryPublisher) -> None:
    items = [item(feedback_id="a"), item(feedback_id="b", kind="rating", value=9), item(feedback_id="c"), "x"]
    response = await client.post("/v1/feedback/batch", json={"items": items}, headers=bearer("reviewer"))
    assert response.status_code == 202, response.text
    body = response.json()
    assert [(a["index"], a["feedback_id"]) for a in body["accepted"]] == [(0, "a"), (2, "c")]
    assert [r["index"] for r in body["rejected"]] == [1, 3]
    assert body["rejected"][0]["errors"][0]["loc"] == ["value"]
    assert [e.id for e in publisher.events] == [a["event_id"] for a in body["accepted"]]


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        ({"items": [item(kind="nope")]}, 422, "every item was rejected"),
        ({"items": []}, 422, "at least one item"),
        ([item()], 422, '{"items": [...]}'),
        ({"items": [item()], "extra": 1}, 422, '{"items": [...]}'),
        ({"items": [item()] * 3}, 413, "at most 2 per request"),
    ],
)
async def test_a_bad_batch_is_refused_whole(
    make_client: MakeClient, publisher: InMemoryPublisher, body: Any, status: int, detail: str
) -> None:
    async with make_client(settings=FeedbackSettings(max_batch_items=2)) as client:
        response = await client.post("/v1/feedback/batch", json=body, headers=bearer("reviewer"))
    assert detail in assert_problem(response, status)["detail"]
    assert publisher.events == []


async def test_a_batch_needs_a_key_not_a_token(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/feedback/batch", json={"items": [item()]}, headers=token_for("chatcmpl-1"))
    assert_problem(response, 401)


async def test_a_batch_kafka_did_not_take_is_a_503_naming_every_item(
    client: httpx.AsyncClient, publisher: InMemoryPublisher
) -> None:
    publisher.failure = KafkaConnectionError("down")
    items = [item(feedback_id="a"), item(feedback_id="b", kind="nope")]
    response = await client.post("/v1/feedback/batch", json={"items": items}, headers=bearer("reviewer"))
    body = assert_problem(response, 503)
    assert (response.headers["Retry-After"], body["accepted"]) == ("5", [])
    assert [i["feedback_id"] for i in body["not_accepted"]] == ["a"]
    assert [r["index"] for r in body["rejected"]] == [1]
