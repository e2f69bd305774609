"""Policies per tenant and type: redact, mask, hash with the tenant's secret, block; bad configuration refused."""

from __future__ import annotations

import json

import pytest
from llmops_pii.dead_letters import redact_dead_letter
from llmops_pii.policy import PolicyBook, PolicyError
from llmops_pii.redact import PiiBlocked, redact_text

KEY = b"k" * 32
TEXT = "Priya Sharma (priya@example.com) paid with 4111 1111 1111 1111 from 203.0.113.9"


def test_the_default_redacts_every_type() -> None:
    policy = PolicyBook().for_tenant("t")
    assert redact_text(TEXT, policy) == "[PERSON] ([EMAIL]) paid with [CREDIT_CARD] from [IP_ADDRESS]"


def test_mask_keeps_a_recognisable_shape() -> None:
    book = PolicyBook({"person": "mask", "email": "mask", "credit_card": "mask", "ip_address": "mask"})
    assert (
        redact_text(TEXT, book.for_tenant("t"))
        == "P. S. (p***@example.com) paid with **** **** **** 1111 from [IP_ADDRESS]"
    )


def test_hash_is_stable_within_a_tenant_and_differs_across_tenants() -> None:
    book = PolicyBook({"email": "hash"}, hash_key=KEY)
    acme = redact_text("a@example.com and A@example.com", book.for_tenant("acme"))
    other = redact_text("a@example.com", book.for_tenant("other"))
    first, second = acme.split(" and ")
    assert first == second and first.startswith("[EMAIL:") and len(first) == len("[EMAIL:]") + 16
    assert other != first
    assert redact_text("a@example.com", PolicyBook({"email": "hash"}, hash_key=b"x" * 32).for_tenant("acme")) != first


def test_block_raises_with_the_types_and_no_values() -> None:
    book = PolicyBook({"credit_card": "block", "email": "redact"})
    with pytest.raises(PiiBlocked) as caught:
        redact_text(TEXT, book.for_tenant("t"))
    assert caught.value.types == ["credit_card"]
    assert "4111" not in str(caught.value)


def test_a_tenant_overrides_the_default_for_the_types_it_names() -> None:
    book = PolicyBook.from_json(
        json.dumps({"default": {"email": "redact", "person": "redact"}, "tenants": {"acme": {"email": "mask"}}})
    )
    assert redact_text("Priya Sharma priya@example.com", book.for_tenant("acme")) == "[PERSON] p***@example.com"
    assert redact_text("Priya Sharma priya@example.com", book.for_tenant("other")) == "[PERSON] [EMAIL]"
    assert redact_text("card 4111 1111 1111 1111", book.for_tenant("acme")) == "card 4111 1111 1111 1111"


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("{not json", "not valid JSON"),
        ('{"defaults": {}}', '"default" and "tenants" only'),
        ('{"default": {"emails": "redact"}}', "unknown PII types ['emails']"),
        ('{"default": {"email": "shred"}}', "actions ['shred']"),
        ('{"default": {"email": "hash"}}', "LLMOPS_PII_HASH_KEY"),
    ],
)
def test_bad_configuration_is_refused_with_a_precise_message(config: str, message: str) -> None:
    with pytest.raises(PolicyError, match=message.replace("[", r"\[").replace("]", r"\]")):
        PolicyBook.from_json(config)


def test_dead_letter_bytes_are_redacted_and_stay_json_even_when_the_policy_blocks() -> None:
    policy = PolicyBook({"email": "block"}).for_tenant("t")
    value = json.dumps({"messages": [{"role": "user", "content": "I am bob@example.com"}], "n": 3}).encode()
    assert json.loads(redact_dead_letter(value, policy)) == {
        "messages": [{"role": "user", "content": "I am [EMAIL]"}],
        "n": 3,
    }
    assert redact_dead_letter(b'{"broken": "bob@example.com', policy) == b'{"broken": "[EMAIL]'
