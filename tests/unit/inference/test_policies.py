"""The gateway's policies (docs/adr/0045): allow-lists, blocked terms and classifications, compiled per app from
``llmops.policies`` records, and a refused call answered 403 ``policy_violation`` and audited without prompt text."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from llmops_inference.policies.enforcer import PolicyEnforcer
from llmops_inference.policies.rules import rules_for
from llmops_inference.policies.store import PolicyRules
from llmops_inference.policies.terms import TermMatcher
from llmops_kit.audit import AuditTrail
from llmops_kit.kafka.publisher import InMemoryPublisher
from llmops_schemas import CloudEvent
from llmops_schemas.v1 import PolicyPublished as PolicyV1
from llmops_schemas.v1.examples import example
from llmops_schemas.v2 import AuditRecorded, PolicyPublished

from tests.unit.inference.support import KEYS, assert_openai_error, chat

NOW = datetime(2026, 3, 1, tzinfo=UTC)
WRITER = {"Authorization": f"Bearer {KEYS['writer'][0]}"}


def policy(policy_id: str, settings: dict[str, Any], *, enabled: bool = True) -> PolicyPublished:
    return PolicyPublished(policy_id=policy_id, name=policy_id, kind=settings["kind"], version=1, enabled=enabled,
                           settings=settings, updated_by="k-admin", updated_at=NOW)  # fmt: skip


def record(store: PolicyRules, tenant: str, payload: PolicyPublished | PolicyV1) -> None:
    store.apply_record(f"{tenant}:{payload.policy_id}".encode(),
                       CloudEvent.wrap(payload, source="/tests", tenant_id=tenant).to_json_bytes())  # fmt: skip


ALLOW = policy("allow", {"kind": "model_allowlist", "app": "support", "models": ["gpt-test", "solo"]})
TENANT_ALLOW = policy("tenant-allow", {"kind": "model_allowlist", "models": ["gpt-test"]})
TERMS = policy("terms", {"kind": "blocked_terms", "terms": ["Project Falcon", "bluebird"]})
CONFIDENTIAL = policy("class", {"kind": "data_classification", "app": "hr", "classification": "confidential"})
CLEARED = policy("clear", {"kind": "model_classification", "max_classification": {"gpt-test": "restricted"}})


@pytest.mark.parametrize(
    ("text", "blocked"),
    [
        ("all about project   FALCON today", True),
        ("Bluebird.", True),
        ("bluebirds are birds", False),
        ("project falconer", False),
        ("a blue bird", False),
    ],
)
def test_terms_match_case_insensitively_as_whole_words(text: str, blocked: bool) -> None:
    matcher = TermMatcher({"project falcon": "p1", "bluebird": "p2", "blue": "p3-never-a-prefix-match"})
    found = matcher.blocked_by(["first text", text])
    assert (found in ("p1", "p2")) is blocked


def test_an_allowlist_of_the_app_and_one_of_the_tenant_both_apply() -> None:
    rules = rules_for("support", [ALLOW, TENANT_ALLOW])
    assert rules.check("gpt-test", []) is None
    refusal = rules.check("solo", [])
    assert refusal is not None and (refusal.policy_id, refusal.kind) == ("tenant-allow", "model_allowlist")
    assert rules_for("other-app", [ALLOW]).check("triton-only", []) is None, "another app's list does not apply"


def test_a_classified_app_calls_only_models_cleared_for_its_data() -> None:
    rules = rules_for("hr", [CONFIDENTIAL, CLEARED])
    assert rules.check("gpt-test", []) is None
    refusal = rules.check("solo", [])
    assert refusal is not None and refusal.policy_id == "class"
    assert "confidential" in refusal.reason and "no policy clears it" in refusal.reason
    lowered = policy("lower", {"kind": "model_classification", "max_classification": {"gpt-test": "internal"}})
    refused = rules_for("hr", [CONFIDENTIAL, CLEARED, lowered]).check("gpt-test", [])
    assert refused is not None and "policy 'lower'" in refused.reason, "the lower clearance holds"


def test_a_disabled_policy_does_not_apply_and_a_refusal_quotes_no_prompt_text() -> None:
    assert (
        rules_for("support", [policy("off", TERMS.settings.model_dump(), enabled=False)]).check("m", ["bluebird"])
        is None
    )
    refusal = rules_for("support", [TERMS]).check("gpt-test", ["tell me about BLUEBIRD"])
    assert refusal is not None and refusal.policy_id == "terms"
    assert "bluebird" not in refusal.message.lower()


def test_the_store_compiles_per_app_and_recompiles_after_a_change_or_a_tombstone() -> None:
    store = PolicyRules()
    record(store, "acme", example(PolicyV1))  # a v1 PII policy: upcast, not a gateway kind
    assert store.rules("acme", "support") is None
    record(store, "acme", ALLOW)
    first = store.rules("acme", "support")
    assert first is not None and store.rules("acme", "support") is first, "compiled once per app"
    record(store, "acme", TERMS)
    second = store.rules("acme", "support")
    assert second is not first and second is not None and second.terms is not None
    assert store.rules("beta", "support") is None, "policies are the tenant's"
    store.apply_record(b"acme:terms", None)
    store.apply_record(b"acme:allow", None)
    assert store.rules("acme", "support") is None


def test_compiled_rules_are_bounded() -> None:
    store = PolicyRules(max_apps=3)
    record(store, "acme", TERMS)
    for n in range(10):
        assert store.rules("acme", f"app-{n}") is not None
    assert len(store._compiled) <= 3


async def test_the_gateway_refuses_with_403_and_audits_without_the_prompt(
    make_harness: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    store = PolicyRules()
    for payload in (TERMS, policy("allow", {"kind": "model_allowlist", "models": ["gpt-test"]})):
        record(store, "acme", payload)
    caplog.set_level(logging.DEBUG)
    publisher = InMemoryPublisher()
    enforcer = PolicyEnforcer(store, AuditTrail(publisher, source="/gw"))
    async with make_harness(publisher=publisher, policies=enforcer) as gw:
        blocked = await gw.client.post(
            "/v1/chat/completions", json=chat(content="Is Project Falcon late?"), headers=WRITER
        )
        error = assert_openai_error(blocked, 403, code="policy_violation")
        assert "'terms'" in error["message"] and "falcon" not in error["message"].lower()
        refused = await gw.client.post("/v1/chat/completions", json=chat(model="solo"), headers=WRITER)
        assert "'allow'" in assert_openai_error(refused, 403, code="policy_violation")["message"]
        assert (await gw.client.post("/v1/chat/completions", json=chat(), headers=WRITER)).status_code == 200
        await enforcer.drain()
        await gw.wiring.recorder.flush()
        events = [event.data for event in publisher.events]
    audits = [e for e in events if isinstance(e, AuditRecorded)]
    assert [(a.action, a.outcome, a.resource.id) for a in audits] == [
        ("policy.enforce", "denied", "terms"),
        ("policy.enforce", "denied", "allow"),
    ]
    assert all("falcon" not in str(a.model_dump()).lower() for a in audits)
    assert "falcon" not in caplog.text.lower()
    failed = [e for e in events if not isinstance(e, AuditRecorded) and e.error is not None]
    assert {e.error.code for e in failed} == {"policy_violation"}, "a refused call is recorded as a failed call"
