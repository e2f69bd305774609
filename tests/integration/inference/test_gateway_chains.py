"""A prompt chain through the running gateway, with the official ``openai`` SDK, on the real broker.

Two prompt versions are published over the registry's HTTP API; a chain (``extra_body={"chain": ...}``) runs
the first as a call of its own and the second, fed the first's answer, as the request's call, streamed or
not, against an upstream stub that answers with the last message it was sent. Both steps are on
``llmops.calls.recorded`` with the same trace id and their place in the chain; a chain naming an unknown
prompt reaches the SDK as an OpenAI-shaped 404 naming the step.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

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

KEY = "llmops_integration_chains_key_" + uuid.uuid4().hex
TENANT = f"it-chain-{uuid.uuid4().hex[:8]}"
PROMPTS = {
    "summarise": {
        "template": [{"role": "user", "content": "Summarise: {{ ticket }}"}],
        "variables": [{"name": "ticket"}],
    },
    "reply": {"template": [{"role": "user", "content": "Reply to {{ summary }}"}], "variables": [{"name": "summary"}]},
}
CHAIN: dict[str, Any] = {
    "variables": {"ticket": "parcel late"},
    "steps": [
        {"output": "summary", "prompt": {"name": "summarise", "label": "production"}},
        {"output": "answer", "prompt": {"name": "reply", "label": "production"}},
    ],
}


@pytest.fixture(scope="module")
def gateway(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    keys = f"keys:\n  - {{id: it-chain-admin, tenant_id: {TENANT}, role: admin, sha256: {hash_key(KEY)}}}\n"
    with ServerThread(create_stub("stub")) as stub:
        routes = (
            f"upstreams:\n  - {{name: stub, base_url: '{stub.url}/v1'}}\n"
            "models:\n  model-a: [{backend: openai, upstream: stub, model: up-a, timeout_s: 5}]\n"
        )
        with serve_gateway(
            kafka_bootstrap, tmp_path_factory.mktemp("gateway-chains"), keys=keys, key=KEY, routes=routes
        ) as url:
            yield url


def test_a_chain_through_the_sdk_is_recorded_step_by_step(gateway: str, kafka_bootstrap: str) -> None:
    admin = httpx.Client(base_url=gateway, headers={"Authorization": f"Bearer {KEY}"})
    for name, version in PROMPTS.items():
        created = admin.post(f"/v1/prompts/{name}/versions", json={**version, "labels": ["production"]})
        assert created.status_code == 201, created.text
    client = openai.OpenAI(base_url=f"{gateway}/v1", api_key=KEY, max_retries=0)

    answer = client.chat.completions.create(model="model-a", messages=[], extra_body={"chain": CHAIN})
    text = answer.choices[0].message.content or ""
    assert text.startswith("stub says: you wrote") and "Reply to stub says: you wrote 'Summarise: parcel late'" in text

    stream = client.chat.completions.create(model="model-a", messages=[], stream=True, extra_body={"chain": CHAIN})
    chunks = list(stream)
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert streamed.strip() == text  # the stub streams word by word, each followed by a space
    streamed_id = chunks[0].id

    steps: dict[str, list[CallRecorded]] = {answer.id: [], streamed_id: []}

    def keep(event: CallRecorded) -> bool:
        chain_id = event.metadata.get("chain_id")
        if chain_id in steps:
            steps[chain_id].append(event)
        return all(len(found) == 2 for found in steps.values())

    run_sync(scan_recorded_calls(kafka_bootstrap, TENANT, keep, 30.0))
    for chain_id, (first, last) in steps.items():
        assert last.call_id == chain_id and first.call_id != chain_id
        assert first.trace_id is not None and first.trace_id == last.trace_id
        assert [c.metadata["chain_step"] for c in (first, last)] == ["0", "1"]
        assert [c.prompt.name if c.prompt else None for c in (first, last)] == ["summarise", "reply"]
        assert first.output is not None and first.output in (last.messages[-1].content)
        assert (last.output or "").strip() == text and first.status == last.status == "ok"
    assert steps[answer.id][0].trace_id != steps[streamed_id][0].trace_id

    broken = {**CHAIN, "steps": [CHAIN["steps"][0], {"output": "answer", "prompt": {"name": "nope"}}]}
    with pytest.raises(openai.NotFoundError) as unknown:
        client.chat.completions.create(model="model-a", messages=[], extra_body={"chain": broken})
    assert unknown.value.code == "unknown_prompt"
    assert "chain step 1 ('answer')" in unknown.value.message
