"""The prompt registry and experiments wired into the gateway: HTTP API on the app, resolver and chooser seams.

The harness's stores are marked caught up (no Kafka); the registries publish to the in-memory publisher and
read their own writes, as a replica does.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from typing import Any

import pytest
from llmops_inference.adapters.registries import Registries
from llmops_inference.experiments import ExperimentRegistry
from llmops_inference.prompts import PromptRegistry
from prometheus_client import REGISTRY

from tests.unit.inference.support import KEYS, Harness, assert_openai_error

ADMIN = {"Authorization": f"Bearer {KEYS['admin'][0]}"}
WRITER = {"Authorization": f"Bearer {KEYS['writer'][0]}"}
VERSION: dict[str, Any] = {
    "template": [{"role": "system", "content": "You answer for {{ shop }}."}, {"role": "user", "content": "{{ q }}"}],
    "variables": [{"name": "shop", "default": "Acme"}, {"name": "q"}],
    "parameters": {"temperature": 0.3, "max_tokens": 64},
    "labels": ["production"],
}
SELECTOR = {"name": "support", "label": "production", "variables": {"q": "Where is my order?"}}


@pytest.fixture
async def wired(make_harness: Callable[..., Any]) -> AsyncIterator[Harness]:
    registries = Registries()
    registries.prompts.mark_caught_up()
    registries.experiments.mark_caught_up()
    async with make_harness(registries=registries) as harness:
        yield harness


async def publish_prompt(gw: Harness, name: str = "support", **fields: Any) -> None:
    response = await gw.client.post(f"/v1/prompts/{name}/versions", json={**VERSION, **fields}, headers=ADMIN)
    assert response.status_code == 201, response.text


async def calls(gw: Harness) -> list[Any]:
    return [e for e in await gw.events() if getattr(e, "call_id", None)]


async def test_registries_are_on_the_app_and_their_routes_answer(wired: Harness) -> None:
    assert isinstance(wired.app.state.prompt_registry, PromptRegistry)
    assert isinstance(wired.app.state.experiment_registry, ExperimentRegistry)
    await publish_prompt(wired)
    listed = await wired.client.get("/v1/prompts", headers=ADMIN)
    assert listed.status_code == 200
    missing = await wired.client.get("/v1/prompts/nope", headers=ADMIN)
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    types = {e.type for e in wired.publisher.events}
    assert "llmops.audit.recorded.v1" in types or any("audit" in t for t in types)


async def test_a_prompt_request_is_rendered_and_recorded_with_its_version(wired: Harness) -> None:
    await publish_prompt(wired)
    response = await wired.client.post(
        "/v1/chat/completions", json={"model": "gpt-test", "messages": [], "prompt": SELECTOR}, headers=WRITER
    )
    assert response.status_code == 200, response.text
    sent, _ = wired.backends["primary"].requests[-1]
    assert sent.messages[0]["content"] == "You answer for Acme."  # type: ignore[union-attr]
    assert sent.messages[1]["content"] == "Where is my order?"  # type: ignore[union-attr]
    assert sent.params.temperature == 0.3 and sent.params.max_tokens == 64  # type: ignore[union-attr]
    (call,) = await calls(wired)
    assert call.prompt.name == "support" and call.prompt.version == 1 and call.prompt.label == "production"


async def test_the_request_s_own_parameters_win(wired: Harness) -> None:
    await publish_prompt(wired)
    body = {"model": "gpt-test", "messages": [], "prompt": SELECTOR, "temperature": 1.5}
    assert (await wired.client.post("/v1/chat/completions", json=body, headers=WRITER)).status_code == 200
    sent, _ = wired.backends["primary"].requests[-1]
    assert sent.params.temperature == 1.5  # type: ignore[union-attr]


async def test_prompt_errors_are_openai_shaped(wired: Harness) -> None:
    await publish_prompt(wired)
    unknown = await wired.client.post(
        "/v1/chat/completions", json={"model": "gpt-test", "prompt": {"name": "nope"}}, headers=WRITER
    )
    assert_openai_error(unknown, 404, code="unknown_prompt")
    missing = await wired.client.post(
        "/v1/chat/completions", json={"model": "gpt-test", "prompt": {"name": "support"}}, headers=WRITER
    )
    error = assert_openai_error(missing, 422, code="missing_variables")
    assert error["param"] == "prompt"
    bad = await wired.client.post(
        "/v1/chat/completions", json={"model": "gpt-test", "prompt": {"label": "x"}}, headers=WRITER
    )
    assert_openai_error(bad, 422, code="invalid_prompt_selector")


async def test_prompt_requests_answer_503_while_the_registry_loads(make_harness: Callable[..., Any]) -> None:
    async with make_harness(registries=Registries()) as gw:
        response = await gw.client.post(
            "/v1/chat/completions", json={"model": "gpt-test", "prompt": SELECTOR}, headers=WRITER
        )
        error = assert_openai_error(response, 503, code="registry_unavailable")
        assert (error["param"], response.headers["Retry-After"]) == ("prompt", "1")
        plain = await gw.client.post(
            "/v1/chat/completions",
            json={"model": "gpt-test", "messages": [{"role": "user", "content": "hi"}]},
            headers=WRITER,
        )
        assert plain.status_code == 200
        ready = await gw.client.get("/readyz", headers=WRITER)
        assert ready.json()["checks"]["prompts"] is False


AB: dict[str, Any] = {
    "experiment_id": "ab-solo",
    "name": "gpt-test vs solo",
    "app": "default",
    "kind": "ab",
    "control": "a",
    "variants": [{"name": "a", "weight": 0.5, "model": "gpt-test"}, {"name": "b", "weight": 0.5, "model": "solo"}],
}


async def test_an_ab_experiment_routes_sticky_per_user(wired: Harness) -> None:
    created = await wired.client.post("/v1/experiments", json=AB, headers=ADMIN)
    assert created.status_code == 201, created.text
    body = {"model": "gpt-test", "messages": [{"role": "user", "content": "hi"}]}
    for user in ("u1", "u1", "u2", "u3", "u4", "u5"):
        response = await wired.client.post("/v1/chat/completions", json={**body, "user": user}, headers=WRITER)
        assert response.status_code == 200, response.text
    recorded = await calls(wired)
    assert all(c.experiment.experiment_id == "ab-solo" and not c.experiment.shadow for c in recorded)
    assert recorded[0].experiment.variant == recorded[1].experiment.variant
    assert {c.model for c in recorded if c.experiment.variant == "b"} <= {"solo"}


SHADOW: dict[str, Any] = {
    "experiment_id": "shadow-solo",
    "name": "solo in the shadow",
    "app": "default",
    "kind": "shadow",
    "control": "main",
    "variants": [
        {"name": "main", "weight": 0.5, "model": "gpt-test"},
        {"name": "copy", "weight": 0.5, "model": "solo"},
    ],
}


async def test_a_shadow_variant_is_recorded_but_not_returned(wired: Harness) -> None:
    created = await wired.client.post("/v1/experiments", json=SHADOW, headers=ADMIN)
    assert created.status_code == 201, created.text
    ids = set()
    for n in range(12):  # about half of the users get a shadow copy
        body = {"model": "gpt-test", "messages": [{"role": "user", "content": "hi"}], "user": f"u{n}"}
        response = await wired.client.post("/v1/chat/completions", json=body, headers=WRITER)
        assert response.status_code == 200
        assert response.json()["model"] == "gpt-test"
        ids.add(response.json()["id"])
    await wired.app.state.wiring.gateway.drain()  # every shadow copy started has ended and been recorded
    recorded = await calls(wired)
    primary = [c for c in recorded if not c.experiment.shadow]
    shadows = [c for c in recorded if c.experiment.shadow]
    assert len(primary) == 12 and {c.call_id for c in primary} == ids
    assert all(c.experiment.variant == "main" and c.model == "gpt-test" for c in primary)
    assert shadows and all(c.experiment.variant == "copy" and c.model == "solo" for c in shadows)
    assert not {c.call_id for c in shadows} & ids
    # Each copy names the call it copies (how a pairwise judge finds the pair).
    assert all(c.metadata["shadow_of"] in ids for c in shadows)
    assert not any("shadow_of" in c.metadata for c in primary)


async def test_a_shadow_copy_whose_prompt_cannot_be_rendered_is_recorded_and_the_caller_is_unaffected(
    wired: Harness,
) -> None:
    await publish_prompt(wired)
    # Version 2 needs a variable the callers below do not send: the copy cannot be rendered.
    v2 = [{"role": "user", "content": "{{ q }} (answer in {{ lang }})"}]
    await publish_prompt(wired, template=v2, variables=[{"name": "q"}, {"name": "lang"}], labels=[])
    experiment = {
        **SHADOW,
        "experiment_id": "shadow-v2",
        "variants": [
            {"name": "main", "weight": 0.1, "prompt": {"name": "support", "version": 1}},
            {"name": "copy", "weight": 0.9, "prompt": {"name": "support", "version": 2}},
        ],
    }
    created = await wired.client.post("/v1/experiments", json=experiment, headers=ADMIN)
    assert created.status_code == 201, created.text
    for n in range(6):
        body = {"model": "gpt-test", "messages": [], "prompt": SELECTOR, "user": f"u{n}"}
        response = await wired.client.post("/v1/chat/completions", json=body, headers=WRITER)
        assert response.status_code == 200, response.text
    await wired.app.state.wiring.gateway.drain()

    recorded = await calls(wired)
    primary = [c for c in recorded if not c.experiment.shadow]
    shadows = [c for c in recorded if c.experiment.shadow]
    assert len(primary) == 6 and all(c.status == "ok" and c.prompt.version == 1 for c in primary)
    assert shadows, "most users get a copy"
    for copy in shadows:
        assert (copy.experiment.experiment_id, copy.experiment.variant) == ("shadow-v2", "copy")
        assert (copy.status, copy.tags, copy.metadata["http_status"]) == ("error", ["shadow"], "422")
        assert copy.error.code == "missing_variables"
        assert copy.error.message == "prompt 'support' version 2 needs variables: lang"
        assert [(m.role, m.content) for m in copy.messages] == [("user", "")], "nothing was rendered"
    assert len(wired.backends["primary"].requests) == 6, "only the callers' calls were sent"


async def test_a_shadow_copy_over_the_in_flight_bound_is_not_sent_nor_recorded_but_counted(wired: Harness) -> None:
    gateway = wired.app.state.wiring.gateway
    gateway.limits = replace(gateway.limits, max_shadows_in_flight=0)
    created = await wired.client.post("/v1/experiments", json=SHADOW, headers=ADMIN)
    assert created.status_code == 201, created.text
    labels = {"endpoint": "chat", "model": "shadow", "status": "skipped"}
    before = REGISTRY.get_sample_value("llmops_inference_calls_total", labels) or 0.0
    for n in range(6):
        body = {"model": "gpt-test", "messages": [{"role": "user", "content": "hi"}], "user": f"u{n}"}
        assert (await wired.client.post("/v1/chat/completions", json=body, headers=WRITER)).status_code == 200
    await gateway.stop()

    recorded = await calls(wired)
    assert len(recorded) == 6 and not any(c.experiment.shadow for c in recorded)
    skipped = (REGISTRY.get_sample_value("llmops_inference_calls_total", labels) or 0.0) - before
    assert skipped >= 1, "some of these users get a copy (half, by weight)"
    assert len(wired.backends["primary"].requests) == 6


async def test_registry_routes_answer_problems_and_the_openai_routes_keep_openai_errors(wired: Harness) -> None:
    invalid = await wired.client.post("/v1/prompts/support/versions", json={"template": []}, headers=ADMIN)
    assert invalid.status_code == 422
    assert invalid.headers["content-type"].startswith("application/problem+json")
    anonymous = await wired.client.get("/v1/experiments")
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"].startswith("application/problem+json")
    assert_openai_error(await wired.client.get("/v1/models"), 401)
    assert_openai_error(await wired.client.post("/v1/chat/completions", json={"model": 1}, headers=WRITER), 400)
