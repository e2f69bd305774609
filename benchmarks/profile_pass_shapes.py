"""The warehouse's CPU per evaluation pass by part, and what a compact pass would change (docs/adr/0056).

``profile_passes.py`` measures a stored pass as a whole; this script splits the in-process work of one pass of the
default heuristic set (seven items, ids as the scorer derives them: call ids are UUIDs, latencies unrounded) and
prices the compact shape ADR 0054 named as its next lever: the evaluator references once per pass (items point at
them by index), no ``score_id`` nor ``evaluation_id`` (derivable), latencies rounded to the microsecond. The
compact shape is defined here only, as pydantic models derived into structs by the same code as the real ones
(``llmops_schemas.fastcodec``), so its decode pays the same checks. Each figure is the best of ``--rounds`` loops
over ``--passes`` records (``time.thread_time``); nothing is written anywhere.
"""

from __future__ import annotations

import argparse
import json
import uuid
from collections.abc import Callable, Sequence
from typing import Annotated, Any, ClassVar

from llmops_kit.http.gc_tuning import tune_after_startup
from llmops_kit.kafka.consumer import ConsumedMessage
from llmops_schemas.envelope import EventPayload
from llmops_schemas.fastcodec import event_decoder, reads_exactly
from llmops_schemas.ids import IdFamily
from llmops_schemas.v1.common import Identifier, Name, NonNegativeScore, Score, StrictModel
from llmops_schemas.v2.evaluation import EvaluatorRef, Outcome
from llmops_warehouse.entrypoints.consumer import Router
from llmops_warehouse.events import StoredEvent
from llmops_warehouse.pass_columns import SCORES_TABLE, pass_values
from llmops_warehouse.pass_events import decode_pass
from llmops_warehouse.tables import TABLES
from profile_passes import records
from profile_stages import _per_call_us
from pydantic import AwareDatetime, Field


class CompactItem(StrictModel):
    """An item of the compact pass: its evaluator is an index into the pass's ``evaluators``."""

    evaluator: int = Field(ge=0, le=255)
    metric: Name
    outcome: Outcome = "scored"
    score: Score | None = None
    score_min: Score | None = None
    score_max: Score | None = None
    label: Name | None = None
    passed: bool | None = None
    latency_ms: NonNegativeScore | None = None


class CompactPass(EventPayload):
    """The compact pass priced here (not a contract)."""

    event_type: ClassVar[str] = "llmops.evaluation.scored.v3"
    topic: ClassVar[str] = "llmops.evaluations.scored"

    call_id: Identifier
    app: Name | None = None
    evaluators: Annotated[list[EvaluatorRef], Field(min_length=1, max_length=256)]
    scores: Annotated[list[CompactItem], Field(min_length=1, max_length=256)]
    judged_at: AwareDatetime


def realistic(raw: bytes) -> bytes:
    """``raw`` with a UUID call id and unrounded latencies, as the scorer publishes them."""
    event = json.loads(raw)
    event["subject"] = event["data"]["call_id"] = str(uuid.uuid4())
    for i, item in enumerate(event["data"]["scores"]):
        item["latency_ms"] = 0.0123456789012 * (i + 1)
    return json.dumps(event, separators=(",", ":")).encode()


def compact(raw: bytes) -> bytes:
    """The v2 pass ``raw`` in the compact shape."""
    event = json.loads(raw)
    data, refs, items = event["data"], [], []
    for item in data["scores"]:
        if item["evaluator"] not in refs:
            refs.append(item["evaluator"])
        kept = {k: item[k] for k in ("metric", "score", "score_min", "score_max", "passed") if k in item}
        items.append({**kept, "evaluator": refs.index(item["evaluator"]), "latency_ms": round(item["latency_ms"], 3)})
    event["type"] = CompactPass.event_type
    event["dataschema"] = f"urn:llmops:schema:{CompactPass.event_type}"
    event["data"] = {k: data[k] for k in ("call_id", "app", "judged_at")} | {"evaluators": refs, "scores": items}
    return json.dumps(event, separators=(",", ":")).encode()


def best_us(fn: Callable[[Any], Any], values: Sequence[Any], rounds: int) -> float:
    """:func:`profile_stages._per_call_us` rounded to the hundredth, outputs dropped."""
    return round(_per_call_us(fn, values, rounds)[0], 2)


def score_ids(event: Any) -> None:
    """The seven score ids of a pass, derived as the scorer derives them (one family per call)."""
    family = IdFamily(1_700_000_000_000, event.tenant_id, event.data.call_id)
    for item in event.data.scores:
        family.id(item.evaluator.name, item.evaluator.version, item.metric)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passes", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    tune_after_startup()
    v2 = [realistic(raw) for raw in records(args.passes)]
    v3 = [compact(raw) for raw in v2]
    v3_decoder = event_decoder(CompactPass)
    assert all(v3_decoder.decode(raw) is not None for raw in v3), "the compact records must decode"
    events = [decode_pass(raw) for raw in v2]
    stored = [StoredEvent.of(SCORES_TABLE, event, "k") for event in events]
    messages = [ConsumedMessage(CompactPass.topic, 0, i, b"acme", raw, (), 0) for i, raw in enumerate(v2)]
    router = Router(tables=TABLES, compacted=frozenset())
    n, r = args.passes, args.rounds
    figures = {
        "bytes: v2 event": round(sum(map(len, v2)) / n),
        "bytes: compact event": round(sum(map(len, v3)) / n),
        "bytes: stored payload (v2 document, nulls included)": round(sum(len(s.payload_json()) for s in stored) / n),
        "us: reads_exactly v2": best_us(reads_exactly, v2, r),
        "us: reads_exactly compact": best_us(reads_exactly, v3, r),
        "us: decode v2 (decode_pass, reads_exactly included)": best_us(decode_pass, v2, r),
        "us: decode compact (same checks)": best_us(v3_decoder.decode, v3, r),
        "us: Router.decode (the consumer's whole decode of a pass)": best_us(router.decode, messages, r),
        "us: StoredEvent.of": best_us(lambda e: StoredEvent.of(SCORES_TABLE, e, "k"), events, r),
        "us: payload_json": best_us(StoredEvent.payload_json, stored, r),
        "us: pass_values per pass (payload_json included)": round(best_us(pass_values, [stored], r) / n, 2),
        "us: seven score ids derived": best_us(score_ids, events, r),
    }
    for name, value in figures.items():
        print(f"{name}: {value}")


if __name__ == "__main__":
    main()
