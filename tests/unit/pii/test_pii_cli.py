"""`llmops pii redact`: standard input in, redacted text out; blocked or bad policies exit 2."""

from __future__ import annotations

from llmops_cli.main import app
from typer.testing import CliRunner

CLEAN_ENV = {"LLMOPS_PII_POLICY": None, "LLMOPS_PII_HASH_KEY": None, "LLMOPS_PII_ENABLED": None}


def run(*args: str, stdin: str, env: dict[str, str | None] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["pii", *args], input=stdin, env={**CLEAN_ENV, **(env or {})})
    return result.exit_code, result.output


def test_redact_prints_the_redacted_text() -> None:
    assert run("redact", stdin="mail bob@example.com or call +1 415 867 5309\n") == (
        0,
        "mail [EMAIL] or call [PHONE]\n",
    )


def test_the_policy_comes_from_the_environment_or_the_option() -> None:
    env = {"LLMOPS_PII_POLICY": '{"default": {"email": "hash"}}', "LLMOPS_PII_HASH_KEY": "0123456789abcdef0123"}
    code, hashed = run("redact", "--tenant", "acme", stdin="bob@example.com", env=env)
    assert code == 0 and hashed.startswith("[EMAIL:")
    assert run("redact", "--policy", '{"default": {"email": "mask"}}', stdin="bob@example.com") == (
        0,
        "b***@example.com",
    )


def test_a_blocked_type_or_a_bad_policy_exits_2() -> None:
    code, output = run("redact", "--policy", '{"default": {"email": "block"}}', stdin="bob@example.com")
    assert code == 2 and "blocks records containing: email" in output and "bob@" not in output
    code, output = run("redact", "--policy", '{"default": {"mail": "redact"}}', stdin="x")
    assert code == 2 and "unknown PII types" in output


def test_findings_are_types_and_offsets() -> None:
    assert run("redact", "--findings", stdin="bob@example.com") == (0, '[{"type": "email", "start": 0, "end": 15}]\n')


def test_check_says_whether_a_policy_record_would_apply_and_why_not() -> None:
    record = '{"settings": {"kind": "pii_redaction", "entities": ["email"], "targets": ["messages"], ' + (
        '"custom_patterns": [{"name": "employee_id", "regex": "EMP-\\\\d{6}"}]}}'
    )
    assert run("check", stdin=record) == (0, "applies: 1 types, custom patterns: employee_id; targets: messages\n")
    code, output = run(
        "check", stdin='{"entities": ["email"], "custom_patterns": [{"name": "x", "regex": "(a+)\\\\1"}]}'
    )
    assert code == 2 and "custom_patterns[0] 'x': RE2 refuses the regex" in output
    code, output = run("check", stdin='{"entities": ["passport"]}')
    assert code == 2 and "unknown PII entities ['passport']" in output
