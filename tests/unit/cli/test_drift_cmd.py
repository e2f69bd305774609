"""`llmops drift check`: the JSON shape item 4 of issue 11 names, kinds, call records and bad input (exit 2)."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

from typer.testing import Result

Invoke = Callable[..., Result]


def _write(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def _records(count: int, seed: int, shift: float = 0.0) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [
        {"latency_ms": rng.gauss(500 + shift, 50), "model": rng.choice(["a", "b", "c"]), "tier": rng.choice([1, 2])}
        for _ in range(count)
    ]


def _check(invoke: Invoke, reference: Path, current: Path, *extra: str) -> Result:
    return invoke("drift", "check", "--reference", str(reference), "--current", str(current), *extra)


def test_json_has_the_dataset_verdict_and_every_feature_shaped_as_specified(invoke: Invoke, tmp_path: Path) -> None:
    reference = _write(tmp_path / "ref.jsonl", _records(600, 1))
    current = _write(tmp_path / "cur.jsonl", _records(300, 2, shift=40))

    result = _check(invoke, reference, current, "--json")

    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["dataset_drift"] is True
    latency = body["features"]["latency_ms"]
    assert {"kind", "test", "statistic", "threshold", "p_value", "drift"} <= latency.keys()
    assert (latency["kind"], latency["test"], latency["drift"]) == ("numeric", "ks", True)
    assert body["features"]["model"]["kind"] == "categorical"
    assert body["features"]["model"]["drift"] is False


def test_a_kind_can_be_set_per_feature(invoke: Invoke, tmp_path: Path) -> None:
    reference = _write(tmp_path / "ref.jsonl", _records(200, 1))
    current = _write(tmp_path / "cur.jsonl", _records(200, 2))

    result = _check(invoke, reference, current, "--json", "--feature", "tier=categorical")

    assert json.loads(result.stdout)["features"]["tier"]["test"] == "chi2"


def test_too_few_records_give_a_null_verdict_with_the_reason(invoke: Invoke, tmp_path: Path) -> None:
    reference = _write(tmp_path / "ref.jsonl", _records(10, 1))
    current = _write(tmp_path / "cur.jsonl", _records(10, 2))

    body = json.loads(_check(invoke, reference, current, "--json").stdout)

    assert body["dataset_drift"] is None
    assert body["reason"] == "no feature had enough samples for a verdict"
    assert body["features"]["latency_ms"]["p_value"] is None


def test_exported_call_records_are_flattened(invoke: Invoke, tmp_path: Path, demo: Callable[[int], list]) -> None:
    calls = demo(200)
    reference = _write(tmp_path / "ref.jsonl", calls[:100])
    current = _write(tmp_path / "cur.jsonl", calls[100:])

    body = json.loads(_check(invoke, reference, current, "--json").stdout)

    assert {"prompt", "model", "latency_ms", "status", "prompt_length"} <= body["features"].keys()
    assert body["features"]["prompt"]["kind"] == "text"
    with_topics = json.loads(_check(invoke, reference, current, "--json", "--topics", "3").stdout)
    assert with_topics["features"]["prompt:topic"]["test"] == "chi2"


def test_the_table_names_the_verdict_and_fail_on_drift_exits_3(invoke: Invoke, tmp_path: Path) -> None:
    reference = _write(tmp_path / "ref.jsonl", _records(600, 1))
    current = _write(tmp_path / "cur.jsonl", _records(300, 2, shift=40))

    result = _check(invoke, reference, current, "--fail-on-drift")

    assert result.exit_code == 3
    assert "dataset: drift; features drifted: latency_ms" in result.stdout


def test_bad_input_exits_2_with_a_precise_message(invoke: Invoke, tmp_path: Path) -> None:
    good = _write(tmp_path / "good.jsonl", _records(50, 1))
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"a": 1}\n[1, 2]\n')
    nested = _write(tmp_path / "nested.jsonl", [{"a": 1}, {"a": {"b": 2}}])
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")

    cases = {
        broken: "1 line(s) are not JSON objects (line 2)",
        nested: "line 2: field 'a' is an object; records must be flat",
        empty: "empty file",
    }
    for path, message in cases.items():
        result = _check(invoke, good, path)
        assert result.exit_code == 2 and message in result.stderr, result.output
    wrong_kind = _check(invoke, good, good, "--feature", "model=ordinal")
    assert wrong_kind.exit_code == 2
    assert "expected NAME=KIND with KIND one of numeric, categorical, text, embedding" in wrong_kind.stderr


def test_the_up_demo_finds_the_injected_drift_and_none_without_it() -> None:
    from io import StringIO

    from llmops_cli.drift_demo import run_drift_demo
    from rich.console import Console

    out = StringIO()
    run_drift_demo(Console(file=out, width=400, color_system=None))

    assert "as drawn dataset_drift=False" in out.getvalue()
    assert "injected dataset_drift=True on latency_ms (ks" in out.getvalue()
    assert "lower on the scored half of the current calls, dataset_drift=True on score:relevance@1/relevance;" in (
        out.getvalue()
    )


def test_files_over_the_bounds_are_refused_before_reading(invoke: Invoke, tmp_path: Path, monkeypatch) -> None:
    from llmops_cli import drift_cmd

    good = _write(tmp_path / "good.jsonl", _records(50, 1))
    monkeypatch.setattr(drift_cmd, "MAX_BYTES", 100)
    too_big = _check(invoke, good, good)
    monkeypatch.setattr(drift_cmd, "MAX_BYTES", 1 << 30)
    monkeypatch.setattr(drift_cmd, "MAX_ROWS", 10)
    too_long = _check(invoke, good, good)

    assert too_big.exit_code == 2 and "bytes, at most 100 are read; sample the file" in too_big.stderr
    assert too_long.exit_code == 2 and "50 records, at most 10 are checked; sample the file" in too_long.stderr
