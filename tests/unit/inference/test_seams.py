"""The seams for experiments and prompts: what they return is routed and recorded; shadows are never returned."""

from __future__ import annotations

import asyncio
import base64
import struct
from collections.abc import Callable
from typing import Any

from llmops_inference.api_models import ChatCompletionRequest, ChatMessageIn, copy_with
from llmops_inference.errors import GatewayError
from llmops_inference.limits import RateLimiter
from llmops_inference.ports import CallContext, ExperimentPlan, Resolved, ShadowCall
from llmops_schemas.v1.calls import ExperimentRef
from llmops_schemas.v1.common import PromptRef

from tests.fixtures.clocks import ManualClock
from tests.unit.inference.support import Harness, assert_openai_error, chat


class Experiment:
    """Sends calls to `solo` as variant `b`, with a shadow copy to `gpt-test`."""

    def __init__(self) -> None:
        self.contexts: list[CallContext] = []

    async def choose(self, request: ChatCompletionRequest, context: CallContext) -> ExperimentPlan:
        self.contexts.append(context)
        ref = ExperimentRef(experiment_id="exp-1", variant="b")
        shadow = ShadowCall(
            request.model_copy(update={"model": "gpt-test"}),
            ExperimentRef(experiment_id="exp-1", variant="shadow-arm", shadow=True),
        )
        return ExperimentPlan(request=request.model_copy(update={"model": "solo"}), experiment=ref, shadows=(shadow,))


class Registry:
    """Renders the `prompt` extension field into messages."""

    def chain(self, request: ChatCompletionRequest, context: CallContext) -> None:
        return None

    async def resolve(self, request: ChatCompletionRequest, context: CallContext) -> Resolved:
        selector = (request.model_extra or {}).get("prompt")
        if selector is None:
            return Resolved(request)
        if selector["name"] == "missing":
            raise GatewayError(404, "no prompt named 'missing'", param="prompt", code="prompt_not_found")
        question = selector["variables"]["question"]
        messages = [
            ChatMessageIn(role="system", content="You answer briefly."),
            ChatMessageIn(role="user", content=question),
        ]
        return Resolved(
            request.model_copy(update={"messages": messages}),
            PromptRef(name=selector["name"], version=3, label="production"),
        )


async def test_an_experiment_routes_the_call_and_its_shadow_is_recorded_not_returned(
    make_harness: Callable[..., Any], auth: dict[str, str]
) -> None:
    chooser = Experiment()
    async with make_harness(chooser=chooser) as gw:
        gw.backends["secondary"].reply = "unused"
        gw.backends["primary"].reply = "primary answer"
        headers = {**auth, "X-LLMOps-App": "support-bot", "X-LLMOps-Session": "sess-9"}
        response = await gw.client.post("/v1/chat/completions", json=chat(user="user-42"), headers=headers)
        assert response.json()["choices"][0]["message"]["content"] == "primary answer"
        assert response.json()["model"] == "solo"
        await _settle(gw)
        events = await gw.events()
        assert len(events) == 2
        (main,) = [e for e in events if not e.experiment.shadow]
        (shadow,) = [e for e in events if e.experiment.shadow]
        assert main.call_id == response.json()["id"] and main.model == "solo"
        assert main.experiment == ExperimentRef(experiment_id="exp-1", variant="b")
        assert (shadow.model, shadow.experiment.variant, shadow.tags) == ("gpt-test", "shadow-arm", ["shadow"])
        assert shadow.call_id != main.call_id and shadow.app == "support-bot"
        context = chooser.contexts[0]
        assert (context.app, context.user_id, context.session_id, context.tenant_id) == (
            "support-bot",
            "user-42",
            "sess-9",
            "acme",
        )


async def test_a_prompt_reference_is_rendered_and_recorded(
    make_harness: Callable[..., Any], auth: dict[str, str]
) -> None:
    async with make_harness(resolver=Registry()) as gw:
        body = {"model": "gpt-test", "prompt": {"name": "support", "variables": {"question": "Refund?"}}}
        response = await gw.client.post("/v1/chat/completions", json=body, headers=auth)
        assert response.status_code == 200, response.text
        sent, _ = gw.backends["primary"].requests[-1]
        assert [m["content"] for m in sent.messages] == ["You answer briefly.", "Refund?"]
        assert "prompt" not in sent.params.extra
        (event,) = await gw.events()
        assert event.prompt == PromptRef(name="support", version=3, label="production")
        assert [m.role for m in event.messages] == ["system", "user"]
        missing = await gw.client.post(
            "/v1/chat/completions", json={**body, "prompt": {"name": "missing"}}, headers=auth
        )
        assert_openai_error(missing, 404, code="prompt_not_found")


async def _settle(gw: Harness) -> None:
    for _ in range(50):
        await asyncio.sleep(0.01)
        if len(gw.publisher.events) >= 2:
            return


async def test_embeddings_in_float_and_base64(gw: Harness, auth: dict[str, str]) -> None:
    floats = await gw.client.post("/v1/embeddings", json={"model": "gpt-test", "input": ["a", "bc"]}, headers=auth)
    packed = await gw.client.post(
        "/v1/embeddings", json={"model": "gpt-test", "input": ["a", "bc"], "encoding_format": "base64"}, headers=auth
    )
    as_floats = [row["embedding"] for row in floats.json()["data"]]
    decoded = [list(struct.unpack("<4f", base64.b64decode(row["embedding"]))) for row in packed.json()["data"]]
    assert [[round(x, 5) for x in v] for v in decoded] == [[round(x, 5) for x in v] for v in as_floats]
    assert floats.json()["usage"]["prompt_tokens"] == 2
    events = await gw.events()
    assert events[0].tags == ["embeddings"] and [m.content for m in events[0].messages] == ["a", "bc"]
    assert events[0].call_id.startswith("embd-")


async def test_an_embeddings_request_with_too_many_inputs_is_refused_before_any_upstream_call(
    gw: Harness, auth: dict[str, str]
) -> None:
    body = {"model": "gpt-test", "input": ["a"] * 257}
    refused = await gw.client.post("/v1/embeddings", json=body, headers=auth)
    error = assert_openai_error(refused, 413, code="too_many_inputs")
    assert error["message"] == "input has 257 texts; at most 256 are allowed per request"
    assert error["param"] == "input" and not gw.backends["primary"].requests


async def test_models_lists_the_public_names(gw: Harness, auth: dict[str, str]) -> None:
    response = await gw.client.get("/v1/models", headers=auth)
    assert [m["id"] for m in response.json()["data"]] == ["gpt-test", "solo", "triton-only"]
    assert response.json()["object"] == "list"


async def test_metadata_user_and_trace_are_recorded(gw: Harness, auth: dict[str, str]) -> None:
    traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    body = chat(metadata={"ticket": "T-1"}, user="not a valid identifier!")
    await gw.client.post("/v1/chat/completions", json=body, headers={**auth, "traceparent": traceparent})
    (event,) = await gw.events()
    assert event.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert event.metadata["ticket"] == "T-1" and event.user_id is None
    assert event.app == "default" and event.environment == "production"


def test_a_token_reservation_is_settled_to_the_real_usage() -> None:
    clock = ManualClock(1000.0)
    limiter = RateLimiter(0, 100, clock=clock)
    reservation = limiter.admit("k", 90)
    reservation.settle(10)
    limiter.admit("k", 80)  # 10 + 80 <= 100
    clock.advance(61)
    limiter.admit("k", 100)  # the window has moved on


def test_unknown_fields_stay_on_the_request_for_the_seams() -> None:
    request = ChatCompletionRequest.model_validate({**chat(), "prompt": {"name": "x"}, "base_url": "http://evil"})
    assert request.model_extra == {"prompt": {"name": "x"}, "base_url": "http://evil"}


def test_a_copy_with_other_extensions_leaves_the_request_as_it_was_sent() -> None:
    sent = {**chat(), "chain": {"steps": []}, "prompt": {"name": "x"}, "app_tag": "a"}
    request = ChatCompletionRequest.model_validate(sent)
    copy = copy_with(request, fields={"stream": True}, extensions={"prompt": {"name": "y"}}, drop=("chain",))

    assert copy.model_extra == {"prompt": {"name": "y"}, "app_tag": "a"} and copy.stream
    assert request.model_extra == {"chain": {"steps": []}, "prompt": {"name": "x"}, "app_tag": "a"}
    assert not request.stream
    assert copy_with(request).model_extra == request.model_extra
    assert copy_with(request).model_extra is not request.model_extra


async def test_a_chain_without_a_prompt_registry_is_refused_not_ignored(gw: Harness, auth: dict[str, str]) -> None:
    chain = {"steps": [{"output": "summary", "prompt": {"name": "summarise"}}]}
    response = await gw.client.post("/v1/chat/completions", json=chat(model="solo", chain=chain), headers=auth)

    error = assert_openai_error(response, 400, code="unsupported")
    assert error["param"] == "chain"
    assert gw.backends["primary"].requests == [] and await gw.events() == []
