"""Tenants' policies from their `pii_redaction` records on llmops.policies: actions, overrides, tombstones."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from llmops_pii.policy import PolicyBook
from llmops_pii.records import PolicyRecordsView
from llmops_pii.redact import redact_text
from llmops_schemas.envelope import CloudEvent
from llmops_schemas.registry import record_key
from llmops_schemas.v1.governance import PiiRedactionSettings, PolicyPublished, RetentionSettings

TEXT = "Priya Sharma, priya@example.com, card 4111 1111 1111 1111"


def record(tenant: str, policy_id: str, settings: Any, *, enabled: bool = True) -> tuple[bytes, bytes]:
    policy = PolicyPublished(
        policy_id=policy_id,
        name=policy_id,
        kind=settings.kind,
        version=1,
        enabled=enabled,
        settings=settings,
        updated_by="admin-key",
        updated_at=datetime(2026, 12, 5, tzinfo=UTC),
    )
    event = CloudEvent.wrap(policy, source="/services/governance-audit", tenant_id=tenant)
    return record_key(event), event.to_json_bytes()


def pii(*entities: str, action: str = "mask", **options: Any) -> PiiRedactionSettings:
    return PiiRedactionSettings(entities=list(entities), action=action, options=options)  # type: ignore[arg-type]


def test_a_record_sets_its_tenants_actions_over_the_configured_ones() -> None:
    book = PolicyBook({"person": "redact", "email": "redact"})
    view = PolicyRecordsView(book)
    view.apply_record(*record("acme", "p1", pii("email", action="hash", actions={"person": "mask"})))
    book_key = PolicyBook({"person": "redact", "email": "redact"}, hash_key=b"k" * 32)
    PolicyRecordsView(book_key).apply_record(
        *record("acme", "p1", pii("email", action="mask", actions={"person": "mask"}))
    )
    assert redact_text(TEXT, book_key.for_tenant("acme")) == "P. S., [EMAIL], card 4111 1111 1111 1111"
    assert redact_text(TEXT, book_key.for_tenant("other")) == "[PERSON], [EMAIL], card 4111 1111 1111 1111"
    # hashing without the platform key is refused: the tenant keeps the configured policy
    assert redact_text(TEXT, book.for_tenant("acme")) == "[PERSON], [EMAIL], card 4111 1111 1111 1111"


def test_policies_combine_in_id_order_and_a_tombstone_or_disabling_removes_one() -> None:
    book = PolicyBook({"email": "redact"})
    view = PolicyRecordsView(book)
    view.apply_record(*record("acme", "a-cards", pii("card", action="drop")))
    view.apply_record(*record("acme", "b-mail", pii("email", actions={"email": "block", "credit_card": "mask"})))
    assert redact_text("card 4111 1111 1111 1111", book.for_tenant("acme")) == "card **** **** **** 1111"
    key, _ = record("acme", "b-mail", pii("email"))
    view.apply_record(key, None)
    assert redact_text("card 4111 1111 1111 1111", book.for_tenant("acme")) == "[REDACTED]"  # drop: the whole text
    view.apply_record(*record("acme", "a-cards", pii("card", action="drop"), enabled=False))
    assert redact_text("card 4111 1111 1111 1111 a@b.io", book.for_tenant("acme")) == "card 4111 1111 1111 1111 [EMAIL]"


def test_other_kinds_unknown_entities_and_garbage_are_ignored() -> None:
    book = PolicyBook({"email": "redact"})
    view = PolicyRecordsView(book)
    view.apply_record(*record("acme", "r", RetentionSettings(dataset="calls", days=30)))
    view.apply_record(*record("acme", "x", pii("email", "passport_number")))
    view.apply_record(b"acme:y", b"not an event")
    assert redact_text("a@b.io", book.for_tenant("acme")) == "[EMAIL]"
