"""The online scorer's shortcuts give the answers of the plain code they skip (docs/adr/0054): JSON refused at its
first character without parsing, fences looked for only where a fence opens, RE2 run on the answer's UTF-8 bytes,
the evaluators' latencies counted a batch at a time."""

from __future__ import annotations

import json
import re

import pytest
import re2
from llmops_evaluation.heuristics.patterns import compile_pattern
from llmops_evaluation.heuristics.structured import FENCE, extract_json
from llmops_evaluation.kind_seconds import KindSeconds
from prometheus_client import CollectorRegistry, Histogram, generate_latest

TEXTS = [
    *(c + " tail" for c in "{[\"-0123456789tfnNI}]:,aZ'`~#<\ufeff\u00a0é😀\x00\x1c"),
    "", " ", "\u2003x", "Your parcel left our warehouse this morning.", "NaN", "-Infinity", "Infinity x",
    "nul", "true", "false ", '"a"', "1e5", "-", "{", '{"a": 1}', "[1, 2", "\ufeff{}", "\u00a0{}\u00a0",
    "Here:\n```json\n{\"b\": 2}\n```\n", "~~~\n[1]\n~~~", "``\n{}\n``", "x ```json\n{}\n```", "```json\n{x}\n```",
    "text\n  ```json\n{}\n```", "I'm sorry\n~~~~json5\n{\"a\": [1]}\n~~~~",
]  # fmt: skip


def reference_extract_json(text: str, fences: bool) -> tuple[object, str | None]:
    """``extract_json`` as it was before the shortcuts (ADR 0020): parse, then scan every fence."""
    stripped = text.strip()
    if not stripped:
        return None, "the answer is empty"
    try:
        return json.loads(stripped), None
    except (ValueError, RecursionError) as exc:
        why = f"not JSON: {type(exc).__name__} at char {getattr(exc, 'pos', '?')}"
    if fences:
        for block in FENCE.finditer(text):
            if block["info"] and block["info"].lower() not in {"json", "jsonc", "json5"}:
                continue
            try:
                return json.loads(block["body"]), None
            except (ValueError, RecursionError):
                why = "a code fence holds text that is not JSON"
    return None, why


@pytest.mark.parametrize("fences", [True, False])
@pytest.mark.parametrize("text", TEXTS)
def test_extract_json_answers_as_parsing_every_answer_did(text: str, fences: bool) -> None:
    got, want = extract_json(text, fences=fences), reference_extract_json(text, fences)
    assert repr(got) == repr(want)  # repr: NaN is not equal to itself


PATTERNS = [
    r"\w+",
    "(?i)as an ai language model",
    r"\d+ EUR",
    r"^é",
    r"😀$",
    r"[^\x00-\x7f]",
    r"\bword\b",
    "(?s)a.b",
    "",
]
SUBJECTS = [
    "Your parcel left.",
    "",
    "é at the start",
    "ends with 😀",
    "price \ufffd 3 EUR",
    "a\nb",
    "ascii",
    "wörd word",
]


@pytest.mark.parametrize("pattern", PATTERNS)
def test_re2_on_utf8_bytes_matches_where_it_matches_the_text(pattern: str) -> None:
    compiled = compile_pattern(pattern)
    for subject in SUBJECTS:
        assert (compiled.search(subject.encode()) is None) == (compiled.search(subject) is None), subject
        assert (compiled.search(subject) is None) == (re2.search(pattern, subject) is None)
        if pattern.isascii() and subject.isascii():  # ASCII alike in both engines: a third opinion
            assert (compiled.search(subject.encode()) is None) == (re.search(pattern, subject) is None)


BUCKETS = (0.00001, 0.0001, 0.001, 0.5, 5)
OBSERVED = [("length", 0.0), ("length", 0.00001), ("json", 0.00005), ("json", 0.0001), ("regex", 7.0), ("json", 0.3)]


def test_kind_seconds_exposes_what_a_histogram_by_kind_does() -> None:
    """Fed in two tallies and one lone observation, the same exposition as prometheus_client's ``Histogram`` fed
    one at a time (bucket edges included: a value on a bound counts in that bucket), ``_created`` apart."""
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    seconds = KindSeconds("t_seconds", "Time.", BUCKETS, registry=ours)
    histogram = Histogram("t_seconds", "Time.", ["kind"], buckets=BUCKETS, registry=theirs)
    first, second = seconds.tally(), seconds.tally()
    for n, (kind, value) in enumerate(OBSERVED[:-1]):
        (first if n % 2 else second).observe(kind, value)
    seconds.add(first)
    seconds.add(second)
    seconds.observe(*OBSERVED[-1])
    for kind, value in OBSERVED:
        histogram.labels(kind).observe(value)

    def lines(registry: CollectorRegistry) -> list[str]:
        return sorted(line for line in generate_latest(registry).decode().splitlines() if "_created" not in line)

    assert lines(ours) == lines(theirs)
    assert 't_seconds_bucket{kind="length",le="1e-05"} 2.0' in lines(ours)
