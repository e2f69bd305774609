"""`llmops kafka acls` and `llmops kafka set-password` (the cluster side runs in tests/integration/kit)."""

from __future__ import annotations

from collections.abc import Callable

from typer.testing import Result

Invoke = Callable[..., Result]


def test_acls_prints_what_the_catalog_implies_without_touching_a_cluster(invoke: Invoke) -> None:
    result = invoke("kafka", "acls", env={"KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1"})

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert "User:ingest WRITE topic:llmops.calls.recorded" in lines
    assert {"User:warehouse READ group:warehouse", "User:warehouse READ group:warehouse-*"} <= set(lines)
    assert not any(line.startswith("User:ingest WRITE topic:llmops.alerts") for line in lines)
    assert "applied" not in result.stderr


def test_set_password_refuses_a_short_password_before_connecting(invoke: Invoke) -> None:
    result = invoke("kafka", "set-password", "ingest", "--password-stdin", input="short\n")

    assert result.exit_code == 2
    assert "at least 12 characters" in result.stderr


def test_set_password_refuses_a_name_that_is_not_a_service(invoke: Invoke) -> None:
    result = invoke("kafka", "set-password", "User:ingest", "--password-stdin", input="long-enough-password\n")

    assert result.exit_code == 2
    assert "service directory name" in result.output
