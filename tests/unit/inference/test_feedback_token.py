"""The gateway's feedback token round trip: a chat answer's token is accepted by the feedback service for that
call (and only that call), whether the answer was a body or a stream; no secret, no token."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
from llmops_feedback.bootstrap import FeedbackPorts
from llmops_feedback.bootstrap import create_app as feedback_app
from llmops_feedback.config import FeedbackSettings
from llmops_inference.config import InferenceSettings
from llmops_kit.feedback_tokens import TOKEN_HEADER, FeedbackTokenSettings
from llmops_kit.kafka.publisher import InMemoryPublisher
from llmops_schemas.v2 import CallRecorded, FeedbackReceived

from tests.unit.inference.support import chat

TOKENS = FeedbackTokenSettings(secret="a-secret-the-gateway-and-feedback-share-0000")


def rating(call_id: str) -> dict[str, Any]:
    return {
        "feedback_id": f"fb-{call_id}",
        "call_id": call_id,
        "kind": "rating",
        "value": 5,
        "given_at": datetime.now(UTC).isoformat(),
    }


async def test_an_answers_token_lets_its_end_user_rate_that_call(
    make_harness: Callable[..., Any], auth: dict[str, str]
) -> None:
    settings = InferenceSettings(replay_interval_s=0.05, feedback_tokens=TOKENS)
    async with make_harness(settings=settings) as gw:
        answer = await gw.client.post("/v1/chat/completions", json=chat(), headers=auth)
        async with gw.client.stream("POST", "/v1/chat/completions", json=chat(stream=True), headers=auth) as streamed:
            stream_token = streamed.headers[TOKEN_HEADER]
            await streamed.aread()
        recorded = [call.call_id for call in await gw.events() if isinstance(call, CallRecorded)]
    call_id, token = answer.json()["id"], answer.headers[TOKEN_HEADER]
    assert call_id in recorded  # the token names the recorded call

    publisher = InMemoryPublisher()
    app = feedback_app(FeedbackSettings(), ports=FeedbackPorts(publisher, None, verifier=TOKENS.verifier()))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://feedback") as feedback:
        rated = await feedback.post("/v1/feedback", json=rating(call_id), headers={TOKEN_HEADER: token})
        other = await feedback.post("/v1/feedback", json=rating("chatcmpl-other"), headers={TOKEN_HEADER: token})
        [stream_call] = [c for c in recorded if c != call_id]
        from_stream = await feedback.post(
            "/v1/feedback", json=rating(stream_call), headers={TOKEN_HEADER: stream_token}
        )
    assert rated.status_code == 202, rated.text
    assert other.status_code == 403
    assert from_stream.status_code == 202, from_stream.text
    assert [(e.tenant_id, e.data.call_id) for e in publisher.events] == [("acme", call_id), ("acme", stream_call)]
    assert all(f.source == "end-user" for f in publisher.of(FeedbackReceived))


async def test_without_a_secret_answers_carry_no_token(gw: Any, auth: dict[str, str]) -> None:
    answer = await gw.client.post("/v1/chat/completions", json=chat(), headers=auth)
    assert answer.status_code == 200
    assert TOKEN_HEADER not in answer.headers
