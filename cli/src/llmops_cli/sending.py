"""Reading JSON Lines of call records and sending them to ingest in batches, with a progress bar."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from llmops_cli.client import ApiError, PlatformClient

__all__ = ["JsonlError", "Rejection", "SendError", "SendResult", "read_jsonl", "send_records"]


class JsonlError(ValueError):
    """Lines of the file that are not JSON objects: ``problems`` is ``[(line number, reason)]``."""

    def __init__(self, path: Path, problems: list[tuple[int, str]]) -> None:
        self.problems = problems
        first = ", ".join(str(n) for n, _ in problems[:10]) + (", ..." if len(problems) > 10 else "")
        super().__init__(f"{path}: {len(problems)} line(s) are not JSON objects (line {first})")


@dataclass(frozen=True)
class Rejection:
    """A record ingest refused: its line in the file (1-based) and ingest's ``[{loc, msg, type}]``."""

    line: int
    errors: Any


@dataclass
class SendResult:
    accepted: int = 0
    rejected: list[Rejection] = field(default_factory=list)


class SendError(RuntimeError):
    """A batch failed as a whole (ingest unreachable, 401, 413, 503...); earlier batches were sent."""

    def __init__(self, cause: ApiError, sent: SendResult, first_unsent_line: int) -> None:
        super().__init__(str(cause))
        self.cause, self.sent, self.first_unsent_line = cause, sent, first_unsent_line


def read_jsonl(path: Path) -> tuple[list[int], list[dict[str, Any]]]:
    """The records of a JSON Lines file and the line number of each; blank lines are skipped.

    Raises :class:`JsonlError` naming every line that is not a JSON object, so nothing is sent from a
    file that is only partly valid.
    """
    numbers: list[int] = []
    records: list[dict[str, Any]] = []
    problems: list[tuple[int, str]] = []
    with path.open("rb") as lines:
        for number, raw in enumerate(lines, start=1):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw.rstrip(b"\r\n").decode("utf-8"), parse_constant=_no_constants)
            except UnicodeDecodeError as exc:
                problems.append((number, f"not UTF-8 (byte {exc.start + 1})"))
                continue
            except json.JSONDecodeError as exc:
                problems.append((number, f"not JSON: {exc.msg} at column {exc.colno}"))
                continue
            except ValueError as exc:
                problems.append((number, str(exc)))
                continue
            if not isinstance(record, dict):
                problems.append((number, f"a JSON {type(record).__name__}, not an object"))
                continue
            numbers.append(number)
            records.append(record)
    if problems:
        raise JsonlError(path, problems)
    return numbers, records


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON (ingest refuses NaN and Infinity)")


def send_records(
    client: PlatformClient,
    records: Sequence[dict[str, Any]],
    batch_size: int,
    *,
    console: Console,
    line_numbers: Sequence[int] | None = None,
) -> SendResult:
    """Send ``records`` in batches of ``batch_size`` with a progress bar on ``console``.

    Rejections carry the record's line number (``line_numbers[i]``, or ``i + 1`` without them). An error
    that fails a whole batch raises :class:`SendError` with what was sent before it.
    """
    numbers = list(line_numbers) if line_numbers is not None else list(range(1, len(records) + 1))
    result = SendResult()
    columns = (TextColumn("[bold]sending"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("send", total=len(records))
        for offset in range(0, len(records), batch_size):
            batch = records[offset : offset + batch_size]
            try:
                answer = client.send_calls(batch)
            except ApiError as exc:
                raise SendError(exc, result, numbers[offset]) from exc
            result.accepted += len(answer.get("accepted", []))
            result.rejected += [
                Rejection(numbers[offset + int(r["index"])], r.get("errors")) for r in answer.get("rejected", [])
            ]
            progress.advance(task, len(batch))
    return result
