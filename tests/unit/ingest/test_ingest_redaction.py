"""Ingest with the real redaction engine: what is published is redacted, blocked records are refused, and the
raw topic's dead letters keep redacted bytes (ADR 0035)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any

import httpx
from llmops_ingest.adapters import PolicyRedactor
from llmops_ingest.entrypoints.consumer import dead_letter_protector
from llmops_ingest.handlers import Accepted, IngestContext, Rejected, prepare_record
from llmops_kit.kafka.consumer import ConsumedMessage
from llmops_kit.kafka.publisher import InMemoryPublisher
from llmops_pii.policy import PolicyBook
from llmops_schemas.registry import parse_event
from prometheus_client import REGISTRY

MakeCall = Callable[..., dict[str, Any]]
PII = "I am Priya Sharma, card 4111 1111 1111 1111, mail priya@example.com"
BOOK = PolicyBook(tenants={"strict": {"credit_card": "block"}, "acme": {"email": "mask"}})


def pii_call(make_call: MakeCall, **overrides: Any) -> dict[str, Any]:
    return make_call(messages=[{"role": "user", "content": PII}], output="Thanks Priya Sharma.", **overrides)


def test_the_published_event_carries_the_tenants_redaction(make_call: MakeCall, context: IngestContext) -> None:
    outcome = prepare_record(pii_call(make_call), 0, dataclasses.replace(context, redactor=PolicyRedactor(BOOK)))
    assert isinstance(outcome, Accepted)
    event = parse_event(outcome.value)
    assert event.data.messages[0].content == "I am [PERSON], card [CREDIT_CARD], mail p***@example.com"
    assert event.data.output == "Thanks [PERSON]."
    assert b"4111" not in outcome.value and b"Sharma" not in outcome.value


def test_a_record_the_policy_blocks_is_refused_with_the_types_only(make_call: MakeCall, context: IngestContext) -> None:
    strict = dataclasses.replace(context, tenant_id="strict", redactor=PolicyRedactor(BOOK))
    outcome = prepare_record(pii_call(make_call), 0, strict)
    assert isinstance(outcome, Rejected) and outcome.reason == "pii"
    assert outcome.errors == [
        {"loc": [], "msg": "the tenant's PII policy blocks records containing: credit_card", "type": "pii_blocked"}
    ]


async def test_http_lists_the_blocked_record_and_publishes_the_rest(
    make_client: Callable[..., httpx.AsyncClient],
    auth: dict[str, str],
    make_call: MakeCall,
    publisher: InMemoryPublisher,
) -> None:
    counted = {"entrypoint": "http", "outcome": "rejected", "reason": "pii"}
    before = REGISTRY.get_sample_value("llmops_ingest_records_total", counted) or 0.0
    block_all_cards = PolicyRedactor(PolicyBook(tenants={"acme": {"credit_card": "block"}}))
    async with make_client(redactor=block_all_cards) as client:
        body = {"calls": [make_call(call_id="clean"), pii_call(make_call, call_id="with-card")]}
        response = await client.post("/v1/calls", json=body, headers=auth)
    assert response.status_code == 202, response.text
    assert [r["index"] for r in response.json()["rejected"]] == [1]
    assert [e.subject for e in publisher.events] == ["clean"]
    assert REGISTRY.get_sample_value("llmops_ingest_records_total", counted) == before + 1


def test_dead_letters_keep_the_raw_record_redacted_with_its_tenants_policy(make_call: MakeCall) -> None:
    protect = dead_letter_protector(PolicyRedactor(BOOK))
    raw = json.dumps(pii_call(make_call, latency_ms="slow")).encode()
    kept = protect(ConsumedMessage("llmops.calls.raw", 0, 1, b"strict", raw, (), 0))
    record = json.loads(kept)
    assert record["messages"][0]["content"] == "I am [PERSON], card [CREDIT_CARD], mail [EMAIL]"
    assert record["latency_ms"] == "slow"  # what made it fail is still there to fix
    no_tenant = protect(ConsumedMessage("llmops.calls.raw", 0, 2, None, b"not json: priya@example.com", (), 0))
    assert no_tenant == b"not json: [EMAIL]"
