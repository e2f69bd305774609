"""A tenant's own patterns and targets from its `pii_redaction` records: RE2 within bounds, precise refusals,
per-target actions, other tenants unaffected (docs/pii.md)."""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

import pytest
from llmops_pii.calls import CallRedactor
from llmops_pii.dead_letters import redact_dead_letter
from llmops_pii.policy import PolicyBook, PolicyError
from llmops_pii.records import PolicyRecordsView, rule_of
from llmops_pii.redact import PiiBlocked, redact_text
from llmops_schemas.v1.governance import PiiPattern, PiiRedactionSettings

from tests.unit.pii.test_policy_records import record

EMP = {"name": "employee_id", "regex": r"EMP-\d{6}"}


def settings(*patterns: dict[str, str], action: str = "mask", **extra: Any) -> PiiRedactionSettings:
    return PiiRedactionSettings(
        entities=extra.pop("entities", ["email"]),
        custom_patterns=[PiiPattern(**p) for p in patterns],
        action=action,
        **extra,
    )


def test_a_custom_pattern_redacts_for_its_tenant_only() -> None:
    book = PolicyBook()
    PolicyRecordsView(book).apply_record(*record("acme", "p", settings(EMP)))
    text = "ticket from EMP-004211, mail a@b.io"
    assert redact_text(text, book.for_tenant("acme")) == "ticket from [EMPLOYEE_ID], mail [EMAIL]"
    assert redact_text(text, book.for_tenant("other")) == "ticket from EMP-004211, mail [EMAIL]"


def test_a_custom_patterns_action_hashes_per_tenant_or_blocks() -> None:
    book = PolicyBook(hash_key=b"k" * 32)
    view = PolicyRecordsView(book)
    view.apply_record(*record("acme", "p", settings(EMP, action="hash")))
    view.apply_record(*record("beta", "p", settings(EMP, action="hash")))
    acme, beta = book.for_tenant("acme"), book.for_tenant("beta")
    token = redact_text("EMP-000001", acme)
    assert token.startswith("[EMPLOYEE_ID:") and token == redact_text("EMP-000001", acme)
    assert token != redact_text("EMP-000001", beta)  # the tenant's secret
    view.apply_record(*record("acme", "p", settings(EMP, options={"actions": {"employee_id": "block"}})))
    with pytest.raises(PiiBlocked, match="employee_id"):
        redact_text("EMP-000001", book.for_tenant("acme"))
    # a dead letter keeps the record, redacted: a blocked custom type is redacted there
    assert redact_dead_letter(b'{"x": "EMP-000001"}', book.for_tenant("acme")) == b'{"x":"[EMPLOYEE_ID]"}'


def test_targets_choose_the_texts_of_a_call() -> None:
    book = PolicyBook({"email": "redact"})
    view = PolicyRecordsView(book)
    view.apply_record(*record("acme", "p", settings(EMP, targets=["messages"], options={"actions": {"email": "mask"}})))
    call = SimpleNamespace(
        messages=[SimpleNamespace(content="I am EMP-123456, ana@example.com", name=None, tool_calls=None)],
        choices=[
            SimpleNamespace(output="Hello EMP-123456, ana@example.com", refusal=None, logprobs=None, tool_calls=None)
        ],
        metadata={"employee": "EMP-123456"},
        error=None,
    )
    redacted = CallRedactor(lambda o, **c: SimpleNamespace(**{**vars(o), **c})).redact(call, book.for_tenant("acme"))
    assert redacted.messages[0].content == "I am [EMPLOYEE_ID], a***@example.com"
    # outside the record's targets the configured policy holds: emails redacted, the custom pattern not looked for
    assert redacted.choices[0].output == "Hello EMP-123456, [EMAIL]"
    assert redacted.metadata == {"employee": "EMP-123456"}


@pytest.mark.parametrize(
    ("pattern", "cause"),
    [
        ({"name": "x", "regex": r"(a)\1"}, r"custom_patterns\[0\] 'x': RE2 refuses the regex \(invalid escape"),
        ({"name": "x", "regex": r"(?=EMP)\w+"}, "RE2 refuses the regex .*lookaround are not supported"),
        ({"name": "x", "regex": r"\d*"}, "'x': the regex matches the empty string"),
        ({"name": "x", "regex": "a" * 513}, "the regex has 513 characters, at most 512"),
        ({"name": "x", "regex": r"(?:a{1000}){1000}"}, "RE2 refuses the regex"),
        ({"name": "email", "regex": r"EMP-\d+"}, "'email': the name of a built-in type"),
        ({"name": "phone_number", "regex": r"EMP-\d+"}, "the name of a built-in type"),
    ],
)
def test_patterns_that_cannot_run_safely_are_refused_with_the_cause(pattern: dict[str, str], cause: str) -> None:
    with pytest.raises(PolicyError, match=cause):
        rule_of(settings(pattern))


def test_bounds_on_the_number_of_patterns() -> None:
    many = [{"name": f"p{i}", "regex": f"X{i}-\\d+"} for i in range(33)]
    with pytest.raises(PolicyError, match="33 custom patterns, at most 32"):
        rule_of(settings(*many))
    with pytest.raises(PolicyError, match="a second pattern with this name"):
        rule_of(settings(EMP, EMP))
    book = PolicyBook()
    view = PolicyRecordsView(book)
    view.apply_record(*record("acme", "a", settings(*many[:20])))
    view.apply_record(*record("acme", "b", settings(*many[20:])))  # 33 in force together: refused, counted
    assert view.ignored == 1
    assert redact_text("X0-1 X25-1", book.for_tenant("acme")) == "[P0] X25-1"


def test_a_refused_record_keeps_the_tenants_previous_version() -> None:
    book = PolicyBook()
    view = PolicyRecordsView(book)
    view.apply_record(*record("acme", "p", settings(EMP)))
    view.apply_record(*record("acme", "p", settings({"name": "x", "regex": r"(a)\1"})))
    assert view.ignored == 1
    assert redact_text("EMP-123456", book.for_tenant("acme")) == "[EMPLOYEE_ID]"


def test_a_catastrophic_pattern_for_backtracking_runs_in_linear_time() -> None:
    rule = rule_of(settings({"name": "evil", "regex": r"(a+)+$"}))
    book = PolicyBook()
    book.set_tenant_rules("acme", [rule])
    text = "a" * 100_000 + "!"  # exponential for Python's re
    started = time.process_time()
    assert redact_text(text, book.for_tenant("acme")) == text
    assert time.process_time() - started < 1.0


def test_a_custom_match_that_reaches_past_a_built_in_finding_is_redacted_whole() -> None:
    book = PolicyBook()
    PolicyRecordsView(book).apply_record(*record("acme", "p", settings({"name": "ref", "regex": r"b\.io/\d+"})))
    assert redact_text("see a@b.io/77 now", book.for_tenant("acme")) == "see [EMAIL] now"
