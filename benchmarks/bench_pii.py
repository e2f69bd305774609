"""PII redaction throughput: text MB/s per CPU core, and CPU per call of the call redactor ingest runs.

    python benchmarks/bench_pii.py [--seconds 3] [--json]

Single process, one core, CPU time (``time.process_time``, so a busy shared host inflates wall time, not the
figures). Corpora: ``prose`` (English text without personal data: the common case), ``demo calls`` (the texts
of ``llmops demo-calls``, what ``bench_ingest.py`` sends), ``eval set`` (the 734 texts of
benchmarks/data/pii_eval.jsonl, dense with personal data and look-alikes: the hard case). Each corpus is redacted
with the default policy (every type redacted) for ``--seconds`` of CPU, after a warm-up. The call figure is
:class:`~llmops_pii.calls.CallRedactor` on demo-call structs as ingest holds them (``msgspec``);
``gateway_us_per_call`` is the gateway's redactor on the same calls as the call events it records (pydantic
models; it runs in the recorder's drain, off the request path). End-to-end ingest with redaction on is
``bench_ingest.py`` (redaction is on by default; ``--env LLMOPS_PII_ENABLED=false`` for the comparison).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
from llmops_cli.demo import demo_calls
from llmops_pii.calls import CallRedactor
from llmops_pii.detector import find
from llmops_pii.policy import PolicyBook
from llmops_pii.redact import redact_text
from llmops_schemas.envelope import CloudEvent
from llmops_schemas.fastcodec import producer_struct
from llmops_schemas.v2 import CallRecorded
from llmops_schemas.v2.calls import v1_data_as_v2

EVAL_SET = Path(__file__).resolve().parent / "data" / "pii_eval.jsonl"
PROSE = (
    "The quarterly report shows that revenue grew in most regions while costs stayed flat. Please summarise the "
    "main drivers, compare them with last year, and suggest three actions for the next quarter. Keep the answer "
    "under two hundred words and use plain language that the whole team understands. "
)


def cpu_rate(work: Callable[[], int], seconds: float) -> tuple[float, int]:
    """Units of ``work`` per CPU second (work returns how many units one run did), and the runs."""
    work()
    started, done, runs = time.process_time(), 0, 0
    while time.process_time() - started < seconds:
        done += work()
        runs += 1
    return done / (time.process_time() - started), runs


def texts_mb_per_s(texts: list[str], seconds: float) -> float:
    policy = PolicyBook().for_tenant("bench")
    size = sum(len(t.encode()) for t in texts)

    def run() -> int:
        for text in texts:
            redact_text(text, policy)
        return size

    rate, _ = cpu_rate(run, seconds)
    return rate / 1e6


def demo_texts(calls: list[dict[str, Any]]) -> list[str]:
    return [m["content"] for c in calls for m in c["messages"]] + [c["output"] for c in calls if "output" in c]


def calls_per_s(calls: list[dict[str, Any]], seconds: float) -> float:
    struct = producer_struct(CallRecorded)
    models = [CallRecorded.model_validate(v1_data_as_v2(c)) for c in calls]
    structs = [msgspec.convert(m.model_dump(mode="json"), struct) for m in models]
    redactor, policy = CallRedactor(msgspec.structs.replace), PolicyBook().for_tenant("bench")

    def run() -> int:
        for call in structs:
            redactor.redact(call, policy)
        return len(structs)

    rate, _ = cpu_rate(run, seconds)
    return rate


def gateway_events_per_s(calls: list[dict[str, Any]], seconds: float) -> float:
    """The gateway's redactor on call events as it records them (pydantic models, copied where changed)."""
    from llmops_inference.recording.redaction import EventRedactor

    models = [CallRecorded.model_validate(v1_data_as_v2(c)) for c in calls]
    events = [CloudEvent.wrap(m, source="/bench", tenant_id="bench") for m in models]
    redact = EventRedactor(PolicyBook())

    def run() -> int:
        for event in events:
            redact(event)
        return len(events)

    rate, _ = cpu_rate(run, seconds)
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=3.0, help="CPU seconds per measurement")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    calls = list(demo_calls(2000, seed=7, prefix="bench"))
    eval_texts = [json.loads(line)["text"] for line in EVAL_SET.read_text().splitlines()]
    find("warm the name lists up: Amelia")
    result = {
        "prose_mb_s": round(texts_mb_per_s([PROSE * 4] * 50, args.seconds), 2),
        "demo_calls_mb_s": round(texts_mb_per_s(demo_texts(calls), args.seconds), 2),
        "eval_set_mb_s": round(texts_mb_per_s(eval_texts, args.seconds), 2),
        "calls_per_cpu_s": round(calls_per_s(calls, args.seconds)),
    }
    result["us_per_call"] = round(1e6 / result["calls_per_cpu_s"], 1)
    result["gateway_us_per_call"] = round(1e6 / gateway_events_per_s(calls, args.seconds), 1)
    if args.json:
        print(json.dumps(result))
        return
    for name, value in result.items():
        print(f"{name:18} {value}")


if __name__ == "__main__":
    main()
