"""Output that is not a terminal is not wrapped: URLs and commands stay on one line, whole."""

from __future__ import annotations

import io

import pytest
from llmops_cli.consoles import PLAIN_WIDTH, make_console
from llmops_cli.context import CliContext
from llmops_cli.render import table

URL = "http://127.0.0.1:8002/v1/metrics/summary?group_by=model&start=1970-01-01T00:00:00Z&" + "x=1&" * 60
COMMAND = f'curl -s -H "Authorization: Bearer $(jq -r .reader /home/me/.data/credentials.json)" "{URL}"'


@pytest.fixture(autouse=True)
def _no_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)


def test_a_long_command_is_written_on_one_line_to_a_file() -> None:
    out = io.StringIO()
    console = make_console(file=out)

    console.print(f"[bold]Try[/bold]\n  {COMMAND}\n  uv run llmops calls --limit 10")

    assert len(COMMAND) > 2 * PLAIN_WIDTH
    assert f"  {COMMAND}\n" in out.getvalue()
    assert out.getvalue().splitlines()[1] == f"  {COMMAND}"


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_still_wraps_to_its_width() -> None:
    out = Terminal()
    console = make_console(file=out)

    console.print(COMMAND)

    assert console.is_terminal and not console.soft_wrap
    assert COMMAND not in out.getvalue() and out.getvalue().count("\n") > 1


def test_tables_in_a_file_get_the_plain_width() -> None:
    out = io.StringIO()
    console = make_console(file=out)
    rows = [{"group": "a-model-name-" + "x" * 40, "calls": 1, "errors": 0, "total_tokens": 10, "latency_p95_ms": 1.5}]

    console.print(table("stored calls by model", rows, ("group", "calls", "errors", "total_tokens", "latency_p95_ms")))

    assert any(rows[0]["group"] in line for line in out.getvalue().splitlines())


def test_columns_still_sets_the_width_of_a_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "120")

    assert make_console(file=io.StringIO()).width == 120


def test_the_cli_consoles_are_made_by_the_helper() -> None:
    context = CliContext()  # under pytest stdout and stderr are captured: not terminals

    assert context.out.soft_wrap and context.err.soft_wrap
    assert context.out.width == context.err.width == PLAIN_WIDTH
