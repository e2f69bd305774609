"""The preference and fine-tuning export: every row source, deduplication, lineage, bounds, and every row
checked against the committed JSON Schema transcribed from TRL's dataset formats."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
from aiokafka.errors import KafkaConnectionError
from llmops_feedback.bootstrap import FeedbackPorts, create_app
from llmops_feedback.config import FeedbackSettings
from llmops_feedback.export.service import Exporter, ExportFilters, ExportRefused
from llmops_kit.auth import ApiKeyRecord, ApiKeyStore, hash_key
from llmops_kit.kafka.publisher import InMemoryPublisher
from llmops_schemas.v2 import AuditRecorded

from tests.unit.feedback.history import InMemoryHistory
from tests.unit.feedback.support import NOW

KEY = "llmops_reader_key_for_tenant_acme_00001"
AUTH = {"Authorization": f"Bearer {KEY}"}
FIXTURES = Path(__file__).parent / "fixtures"
SCHEMA = json.loads(resources.files("llmops_feedback.export").joinpath("trl_rows.schema.json").read_text())


def call(call_id: str, answer: str, question: str = "Where is my parcel?", **fields: Any) -> dict[str, Any]:
    """A call as the warehouse's generic read returns its ``data``."""
    return {
        "call_id": call_id, "app": "support-bot", "model": fields.pop("model", "gpt-4o-mini"), "status": "ok",
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": question}],
        "choices": [{"output": answer, "finish_reason": "stop"}], "prompt": {"name": "support", "version": 3},
        **fields,
    }  # fmt: skip


def fb(feedback_id: str, call_id: str, kind: str, **fields: Any) -> dict[str, Any]:
    return {"feedback_id": feedback_id, "call_id": call_id, "kind": kind, "source": "api", **fields}


@pytest.fixture
def history() -> InMemoryHistory:
    h = InMemoryHistory()
    at = NOW - timedelta(hours=1)
    calls = [
        call("call-1", "It is lost."),
        call("call-2", "It arrives tomorrow."),
        call("call-3", "No idea."),
        call("call-a", "It is in Lyon.", question="Where is order 7?"),
        call("call-b", "I cannot say.", question="Where is order 7?", model="shadow-model"),
        call("call-tools", "x", messages=[{"role": "user", "content": "q"}, {"role": "tool", "content": "r"}]),
        call("call-failed", "", status="error"),
    ]
    for data in calls:
        h.add("acme", "calls", data, at)
    feedback = [
        fb("f1", "call-1", "correction", correction="It arrives on Friday.", user_id="rev-ann"),
        fb(
            "f1b", "call-1", "correction", correction="It arrives on Friday.", user_id="rev-bob"
        ),  # the same pair, newer
        fb("f2", "call-2", "rating", value=5),
        fb("f3", "call-3", "rating", value=2),
        fb("f4", "call-1", "thumbs", value=0),
        fb("f5", "call-tools", "correction", correction="y"),
        fb("f6", "call-2", "thumbs", value=1, source="end-user"),
    ]
    for n, data in enumerate(feedback):
        key = None if data.get("source") == "end-user" else "rev-key"
        h.add("acme", "feedback", data, at + timedelta(minutes=n), key_id=key)
    h.add("acme", "feedback", fb("f2", "call-2", "rating", value=4), at - timedelta(minutes=5), key_id="rev-key")
    for row in json.loads((FIXTURES / "pairwise_scores.json").read_text())["items"]:
        h.add("acme", "evaluation_scores", row["data"], at)
    h.add("beta", "calls", call("call-1", "other tenant"), at)
    return h


@pytest.fixture
async def client(history: InMemoryHistory) -> AsyncIterator[httpx.AsyncClient]:
    keys = ApiKeyStore([ApiKeyRecord(id="reader", tenant_id="acme", role="reader", sha256=hash_key(KEY))])
    ports = FeedbackPorts(InMemoryPublisher(), keys, clock=lambda: NOW, history=history)
    app = create_app(FeedbackSettings(history_max_rows=100), ports=ports)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://feedback") as c:
        yield c


async def export(client: httpx.AsyncClient, fmt: str, **params: Any) -> tuple[httpx.Response, list[dict[str, Any]]]:
    params.setdefault("start", (NOW - timedelta(days=1)).isoformat())
    answer = await client.get(f"/v1/exports/{fmt}", params=params, headers=AUTH)
    rows = [json.loads(line) for line in answer.text.splitlines()] if answer.status_code == 200 else []
    for row in rows:
        jsonschema.validate(row, SCHEMA)
    return answer, rows


async def test_dpo_pairs_from_corrections_judgments_and_ratings(client: httpx.AsyncClient) -> None:
    answer, rows = await export(client, "dpo")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/jsonl")
    by_source = {row["lineage"]["source"]: row for row in rows}
    assert sorted(by_source) == ["correction", "pairwise", "rating"]
    assert len(rows) == int(answer.headers["x-llmops-export-rows"]) == 5
    assert json.loads(answer.headers["x-llmops-export-sources"]) == {"correction": 1, "pairwise": 1, "rating": 3}
    skipped = json.loads(answer.headers["x-llmops-export-skipped"])
    assert skipped == {"duplicate": 1, "tools": 1}

    corrected = by_source["correction"]
    assert corrected["prompt"] == [{"role": "system", "content": "Be brief."},
                                   {"role": "user", "content": "Where is my parcel?"}]  # fmt: skip
    assert corrected["chosen"] == [{"role": "assistant", "content": "It arrives on Friday."}]
    assert corrected["rejected"] == [{"role": "assistant", "content": "It is lost."}]
    assert corrected["lineage"] | {"feedback_ids": None} == {
        "source": "correction", "app": "support-bot", "call_ids": ["call-1"], "chosen_call_id": None,
        "rejected_call_id": None, "prompt_name": "support", "prompt_version": 3, "model": "gpt-4o-mini",
        "rejected_model": None, "judge": None, "reviewer": "rev-bob", "feedback_ids": None, "evaluation_ids": [],
    }  # fmt: skip

    judged = by_source["pairwise"]
    assert judged["chosen"][0]["content"] == "It is in Lyon." and judged["rejected"][0]["content"] == "I cannot say."
    assert (
        judged["lineage"]["judge"]
        == "pairwise-helpfulness@1+3f2a9c1d0e4b (local-judge, rubric pairwise-helpfulness v2)"
    )
    assert (judged["lineage"]["chosen_call_id"], judged["lineage"]["rejected_call_id"]) == ("call-a", "call-b")
    assert judged["lineage"]["rejected_model"] == "shadow-model"
    assert judged["lineage"]["evaluation_ids"] == ["0193c3a0-0000-7000-8000-0000000000b1"]

    # Stars: call-2 5 (its latest rating, and an end user's thumbs up), call-3 2, call-1 1 (a thumbs down).
    rated = [(r["lineage"]["chosen_call_id"], r["lineage"]["rejected_call_id"]) for r in rows[2:]]
    assert rated == [("call-2", "call-3"), ("call-2", "call-1"), ("call-3", "call-1")]
    assert rows[3]["lineage"]["feedback_ids"] == ["f2", "f4", "f6"]


async def test_sft_rows_of_approved_answers_and_corrections(client: httpx.AsyncClient) -> None:
    answer, rows = await export(client, "sft")
    assert answer.status_code == 200, answer.text
    by_source = {(row["lineage"]["source"], row["lineage"]["call_ids"][0]): row for row in rows}
    assert sorted(by_source) == [("approved", "call-2"), ("corrected", "call-1")]
    approved = by_source[("approved", "call-2")]
    assert approved["messages"][-1] == {"role": "assistant", "content": "It arrives tomorrow."}
    assert by_source[("corrected", "call-1")]["messages"][-1]["content"] == "It arrives on Friday."


async def test_a_disagreeing_judgment_makes_no_pair(client: httpx.AsyncClient, history: InMemoryHistory) -> None:
    judged = json.loads((FIXTURES / "pairwise_scores.json").read_text())["items"][0]["data"]
    other_judge = {**judged["scores"][0], "score_id": "x", "label": "compared", "score": 0.0}
    history.add(
        "acme", "evaluation_scores", {**judged, "evaluation_id": "x", "scores": [other_judge]}, NOW - timedelta(hours=1)
    )
    answer, rows = await export(client, "dpo", source="pairwise")
    assert rows == []
    assert json.loads(answer.headers["x-llmops-export-skipped"]) == {"tie_or_conflicting_judgments": 1}


async def test_filters_reach_the_warehouse(client: httpx.AsyncClient, history: InMemoryHistory) -> None:
    await export(client, "dpo", app="support-bot", model="gpt-4o-mini", prompt_name="support", prompt_version=3)
    tenant, table, params = history.reads[0]
    assert (tenant, table) == ("acme", "calls")
    assert params | {"start": "x"} == {"start": "x", "app": "support-bot", "model": "gpt-4o-mini",
                                       "prompt_name": "support", "prompt_version": "3"}  # fmt: skip


@pytest.mark.parametrize(
    ("fmt", "params", "status", "needle"),
    [
        ("dpo", {"source": "approved"}, 422, "dpo rows come from"),
        ("csv", {}, 422, "dpo"),
        ("dpo", {"start": "2026-01-01T00:00:00"}, 422, "timezone"),
        ("dpo", {"end": (NOW - timedelta(days=2)).isoformat()}, 422, "end must be after start"),
        ("sft", {"min_margin": 9}, 422, "min_margin"),
    ],
)
async def test_bad_filters_are_422(
    client: httpx.AsyncClient, fmt: str, params: dict[str, Any], status: int, needle: str
) -> None:
    answer, _ = await export(client, fmt, **params)
    assert answer.status_code == status, answer.text
    assert needle in answer.text


async def test_more_history_than_the_bound_is_a_413(client: httpx.AsyncClient, history: InMemoryHistory) -> None:
    for n in range(101):
        history.add("acme", "calls", call(f"many-{n}", "a"), NOW - timedelta(minutes=n + 1))
    answer, _ = await export(client, "dpo")
    assert answer.status_code == 413 and "narrow the time window" in answer.json()["detail"]


def test_the_schema_refuses_what_trl_cannot_read() -> None:
    good = {"id": "0" * 32, "messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}],
            "lineage": {k: None for k in SCHEMA["$defs"]["lineage"]["required"]} | {
                "source": "approved", "call_ids": ["c"], "feedback_ids": [], "evaluation_ids": []}}  # fmt: skip
    jsonschema.validate(good, SCHEMA)
    for bad in (
        good | {"messages": [{"role": "tool", "content": "x"}, {"role": "assistant", "content": "a"}]},
        good | {"messages": [{"role": "user", "content": "q"}]},
        good | {"prompt": "plain text"},
        {k: v for k, v in good.items() if k != "lineage"},
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, SCHEMA)


async def test_exports_beyond_the_running_limit_are_429(history: InMemoryHistory) -> None:
    release = asyncio.Event()

    class Slow(InMemoryHistory):
        async def read(self, tenant: str, table: str, params: Any, max_rows: int) -> Any:
            await release.wait()
            return await history.read(tenant, table, params, max_rows)

    exporter = Exporter(Slow(), max_rows=100, clock=lambda: NOW, max_running=1)
    filters = ExportFilters(start=(NOW - timedelta(days=1)).isoformat())
    first = asyncio.create_task(exporter.export("acme", "dpo", filters))
    await asyncio.sleep(0)
    with pytest.raises(ExportRefused) as refused:
        await exporter.export("acme", "dpo", filters)
    assert refused.value.status == 429
    release.set()
    assert len((await first).rows) == 5
    assert len((await exporter.export("acme", "dpo", filters)).rows) == 5  # the slot is free again


async def test_every_export_is_audited_before_its_rows(history: InMemoryHistory) -> None:
    keys = ApiKeyStore([ApiKeyRecord(id="reader", tenant_id="acme", role="reader", sha256=hash_key(KEY))])
    publisher = InMemoryPublisher()
    app = create_app(FeedbackSettings(history_max_rows=100), ports=FeedbackPorts(publisher, keys, history=history))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://feedback") as c:
        answer, rows = await export(c, "dpo", app="support-bot")
        assert answer.status_code == 200 and rows
        [entry] = publisher.of(AuditRecorded)
        assert (entry.action, entry.resource.id, entry.actor.id) == ("export.dpo", "dpo", "reader")
        assert entry.details["rows"] == len(rows) and entry.details["app"] == "support-bot"
        publisher.failure = KafkaConnectionError()
        refused, _ = await export(c, "sft")
    assert refused.status_code == 503 and refused.headers["retry-after"]
    assert "audited" in refused.json()["detail"]
