"""Prompts and experiments through the running gateway, with the official ``openai`` SDK, on the real broker.

A prompt version is created and labelled ``production`` over the registry's HTTP API, an A/B experiment
splits its calls between two upstream stubs and a shadow experiment mirrors another app's calls; the calls
recorded on ``llmops.calls.recorded`` carry the prompt and experiment references, and a shadow copy is
recorded (``shadow=true``) but never returned. Prompt errors reach the SDK in OpenAI's shape.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import httpx
import openai
import pytest
from llmops_kit.auth import hash_key
from llmops_schemas.v2 import CallRecorded

from tests.fixtures.gateway import ServerThread, serve_gateway
from tests.fixtures.kafka import run_sync
from tests.fixtures.recorded_calls import scan_recorded_calls
from tests.integration.inference.upstream_stub import create_stub

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(180)]

KEY = "llmops_integration_prompts_key_" + uuid.uuid4().hex
TENANT = f"it-pe-{uuid.uuid4().hex[:8]}"
AB_APP, SHADOW_APP = "it-ab", "it-shadow"
SELECTOR = {"name": "greeting", "label": "production", "variables": {"who": "Ada"}}


@pytest.fixture(scope="module")
def gateway(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    keys = f"keys:\n  - {{id: it-admin, tenant_id: {TENANT}, role: admin, sha256: {hash_key(KEY)}}}\n"
    with ServerThread(create_stub("stub-a")) as a, ServerThread(create_stub("stub-b")) as b:
        routes = (
            f"upstreams:\n  - {{name: stub-a, base_url: '{a.url}/v1'}}\n  - {{name: stub-b, base_url: '{b.url}/v1'}}\n"
            "models:\n"
            "  model-a: [{backend: openai, upstream: stub-a, model: up-a, timeout_s: 5}]\n"
            "  model-b: [{backend: openai, upstream: stub-b, model: up-b, timeout_s: 5}]\n"
        )
        with serve_gateway(
            kafka_bootstrap, tmp_path_factory.mktemp("gateway-pe"), keys=keys, key=KEY, routes=routes
        ) as url:
            yield url


def _scan(bootstrap: str, keep: Callable[[CallRecorded], bool], timeout_s: float = 30.0) -> None:
    run_sync(scan_recorded_calls(bootstrap, TENANT, keep, timeout_s))


def test_prompt_versions_and_experiments_through_the_sdk(gateway: str, kafka_bootstrap: str) -> None:
    admin = httpx.Client(base_url=gateway, headers={"Authorization": f"Bearer {KEY}"})
    version = {"template": [{"role": "user", "content": "Say hello to {{ who }}."}], "variables": [{"name": "who"}]}
    assert admin.post("/v1/prompts/greeting/versions", json=version).status_code == 201
    labelled = admin.put("/v1/prompts/greeting/labels/production", json={"version": 1})
    assert labelled.status_code == 200, labelled.text
    ab = {
        "experiment_id": f"ab-{TENANT}",
        "name": "stub a vs stub b",
        "app": AB_APP,
        "kind": "ab",
        "control": "a",
        "variants": [
            {"name": "a", "weight": 0.5, "model": "model-a"},
            {"name": "b", "weight": 0.5, "model": "model-b"},
        ],
    }
    shadow = {
        "experiment_id": f"shadow-{TENANT}",
        "name": "stub b in the shadow of stub a",
        "app": SHADOW_APP,
        "kind": "shadow",
        "control": "live",
        "variants": [
            {"name": "live", "weight": 0.1, "model": "model-a"},
            {"name": "copy", "weight": 0.9, "model": "model-b"},
        ],
    }
    for body in (ab, shadow):
        created = admin.post("/v1/experiments", json=body)
        assert created.status_code == 201, created.text

    client = openai.OpenAI(
        base_url=f"{gateway}/v1", api_key=KEY, max_retries=0, default_headers={"X-LLMOps-App": AB_APP}
    )

    def ask(user: str, **extra: object) -> openai.types.chat.ChatCompletion:
        return client.chat.completions.create(
            model="model-a", messages=[], extra_body={"prompt": SELECTOR}, user=user, **extra
        )  # type: ignore[call-overload, no-any-return]

    first, again = ask("u1"), ask("u1")
    assert first.choices[0].message.content == again.choices[0].message.content
    assert "Say hello to Ada." in (first.choices[0].message.content or "")
    found: dict[str, CallRecorded] = {}

    def keep(event: CallRecorded) -> bool:
        if event.call_id in {first.id, again.id}:
            found[event.call_id] = event
        return len(found) == 2

    _scan(kafka_bootstrap, keep)
    one, two = found[first.id], found[again.id]
    assert one.prompt is not None and (one.prompt.name, one.prompt.version, one.prompt.label) == (
        "greeting",
        1,
        "production",
    )
    assert one.experiment is not None and one.experiment.experiment_id == ab["experiment_id"]
    assert not one.experiment.shadow
    assert two.experiment is not None and two.experiment.variant == one.experiment.variant  # sticky per user
    assert one.model == ("model-a" if one.experiment.variant == "a" else "model-b")

    # Shadow: the answer always comes from the control (stub a); a copy to stub b is recorded, never returned.
    shadow_client = client.with_options(default_headers={"X-LLMOps-App": SHADOW_APP})
    returned = set()
    for n in range(10):
        answer = shadow_client.chat.completions.create(
            model="model-a", messages=[{"role": "user", "content": f"shadow {n}"}], user=f"s{n}"
        )
        assert (answer.choices[0].message.content or "").startswith("stub-a says")
        returned.add(answer.id)
    shadows: list[CallRecorded] = []

    def keep_shadow(event: CallRecorded) -> bool:
        experiment = event.experiment
        if experiment is not None and experiment.experiment_id == shadow["experiment_id"] and experiment.shadow:
            shadows.append(event)
        return bool(shadows)

    _scan(kafka_bootstrap, keep_shadow)
    assert shadows[0].experiment is not None and shadows[0].experiment.variant == "copy"
    assert shadows[0].model == "model-b" and shadows[0].call_id not in returned

    # Prompt errors are OpenAI-shaped.
    with pytest.raises(openai.NotFoundError) as unknown:
        client.chat.completions.create(model="model-a", messages=[], extra_body={"prompt": {"name": "nope"}})
    assert unknown.value.status_code == 404
    assert unknown.value.code == "unknown_prompt"
    with pytest.raises(openai.UnprocessableEntityError) as missing:
        client.chat.completions.create(
            model="model-a", messages=[], extra_body={"prompt": {"name": "greeting", "label": "production"}}
        )
    assert missing.value.code == "missing_variables"
    assert missing.value.body is not None
