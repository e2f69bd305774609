"""Provenance of recorded calls: the origin comes from the calling key's role and the envelope names the key.

A platform service's key (role ``service``) makes platform traffic; any other key an application's. A client
cannot change either: an ``origin`` in the body or in ``metadata`` is just data.
"""

from __future__ import annotations

from typing import Any

from llmops_schemas.v2 import CallRecorded

from tests.unit.inference.chain_support import chain_body, shadow_reply_v2, step
from tests.unit.inference.support import KEYS, Harness, chat

SERVICE = {"Authorization": f"Bearer {KEYS['service'][0]}", "X-LLMOps-Tenant": "acme"}
WRITER = {"Authorization": f"Bearer {KEYS['writer'][0]}"}


async def recorded(gw: Harness) -> list[Any]:
    """The call events (envelopes) published so far, registry audit events left out."""
    await gw.wiring.gateway.drain()
    await gw.wiring.recorder.flush()
    return [e for e in gw.publisher.events if isinstance(e.data, CallRecorded)]


async def test_an_application_key_records_application_calls_whatever_the_client_claims(gw: Harness) -> None:
    claims = chat(metadata={"origin": "platform"}, origin="platform")
    response = await gw.client.post("/v1/chat/completions", json=claims, headers=WRITER)
    assert response.status_code == 200, response.text
    (event,) = await recorded(gw)
    assert event.data.origin == "application"
    assert event.key_id == "writer-key" and event.tenant_id == "acme"
    assert event.data.metadata["origin"] == "platform", "the client's label is kept as data, nothing more"


async def test_a_service_key_records_platform_calls_for_the_tenant_it_names(gw: Harness) -> None:
    response = await gw.client.post("/v1/chat/completions", json=chat(), headers=SERVICE)
    assert response.status_code == 200, response.text
    embedded = await gw.client.post("/v1/embeddings", json={"model": "gpt-test", "input": "a"}, headers=SERVICE)
    assert embedded.status_code == 200, embedded.text
    events = await recorded(gw)
    assert [(e.data.origin, e.key_id, e.tenant_id) for e in events] == [("platform", "service-key", "acme")] * 2
    unnamed = {"Authorization": SERVICE["Authorization"]}
    refused = await gw.client.post("/v1/chat/completions", json=chat(), headers=unnamed)
    assert refused.status_code == 400


async def test_chain_steps_and_shadow_copies_carry_the_origin_and_the_key(chain_gw: Harness) -> None:
    await shadow_reply_v2(chain_gw)
    for n in range(6):
        body = chain_body(step("summary", "summarise"), step("answer", "reply"), user=f"u-{n}")
        response = await chain_gw.client.post("/v1/chat/completions", json=body, headers=SERVICE)
        assert response.status_code == 200, response.text

    events = await recorded(chain_gw)
    shadows = [e for e in events if "shadow" in e.data.tags]
    steps = [e for e in events if e.data.metadata.get("chain_step") == "0"]
    assert shadows and len(steps) == 6
    assert {(e.data.origin, e.key_id, e.tenant_id) for e in events} == {("platform", "service-key", "acme")}
