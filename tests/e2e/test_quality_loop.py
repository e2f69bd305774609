"""Issue 9's loop end to end, through the processes `llmops up` starts (Kafka, ingest, warehouse on chDB, the
Triton model server, the gateway, the evaluation and the feedback services), without its demo workload:

calls through the gateway -> their online scores stored -> feedback on two of them (a reviewer's rating with
the reviewer key, an end user's thumbs down with the answer's feedback token and no key) -> a review queue of
the negative feedback -> one item claimed and reviewed with a correction -> a DPO export whose row holds that
correction, valid against the committed TRL schema.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from importlib import resources
from typing import Any, TypeVar

import httpx
import jsonschema
import pytest
from llmops_kit.feedback_tokens import TOKEN_HEADER
from llmops_pii.policy import PolicyBook
from llmops_pii.redact import redact_text

from tests.e2e.test_llmops_up import READY_TIMEOUT_S, Session, session  # noqa: F401 - the fixture

pytestmark = [pytest.mark.e2e]

APP = "e2e-quality-loop"
CALLS = 4
WAIT_S = 90.0
CORRECTION = "Your parcel left our warehouse yesterday; track it from 'My orders'."
TRL_SCHEMA = json.loads(resources.files("llmops_feedback.export").joinpath("trl_rows.schema.json").read_text())
T = TypeVar("T")


def _until(probe: Callable[[], T | None], what: str) -> T:
    """``probe()``'s first answer that is not None, polled until ``WAIT_S``; fails naming ``what``."""
    deadline = time.monotonic() + WAIT_S
    while (found := probe()) is None:
        if time.monotonic() > deadline:
            pytest.fail(f"not within {WAIT_S:.0f}s: {what}")
        time.sleep(0.3)
    return found


def _ok(response: httpx.Response) -> Any:
    assert response.status_code < 300, f"{response.request.method} {response.request.url}: {response.text}"
    return response.json() if response.content else None


def _feedback(call_id: str, kind: str, value: int) -> dict[str, Any]:
    given = datetime.now(UTC).isoformat()
    return {"feedback_id": f"e2e-{uuid.uuid4()}", "call_id": call_id, "kind": kind, "value": value, "given_at": given}


def test_calls_scores_feedback_review_and_a_dpo_export(session: Session) -> None:  # noqa: F811 - the fixture
    started = datetime.now(UTC).isoformat()
    up = session.up(demo_calls=0)
    up.wait_for("press Ctrl-C to stop", READY_TIMEOUT_S)
    keys = json.loads((session.data_dir / "credentials.json").read_text())
    auth = {role: {"Authorization": f"Bearer {key}"} for role, key in keys.items()}
    gateway = httpx.Client(base_url=session.url("inference"), timeout=60)
    warehouse = httpx.Client(base_url=session.url("warehouse"), headers=auth["reader"], timeout=30)
    feedback = httpx.Client(base_url=session.url("feedback"), timeout=30)
    evaluation = httpx.Client(base_url=session.url("evaluation"), headers=auth["admin"], timeout=30)
    with gateway, warehouse, feedback, evaluation:
        spec = {"kind": "length", "app": APP, "params": {"min_chars": 1, "max_chars": 2000}}
        _ok(evaluation.put(f"/v1/evaluators/{APP}-length", json=spec))

        # calls through the gateway, each answer with its feedback token
        answers = []
        for i in range(CALLS):
            chat = {"model": "opticks-gpt2", "messages": [{"role": "user", "content": f"Where is parcel {i}?"}],
                    "max_tokens": 8, "seed": i}  # fmt: skip
            answer = gateway.post("/v1/chat/completions", json=chat, headers={**auth["writer"], "X-LLMOps-App": APP})
            _ok(answer)
            answers.append(answer)
        call_ids = [a.json()["id"] for a in answers]

        # their online scores, stored by the warehouse
        def scored() -> set[str] | None:
            page = _ok(warehouse.get("/v1/events/evaluation_scores", params={"app": APP, "start": started}))
            found = {row["data"]["call_id"] for row in page["items"] if row["data"]["scores"]}
            return found if found >= set(call_ids) else None

        _until(scored, f"the online scores of {CALLS} calls")

        # a reviewer's rating (a key), an end user's thumbs down (the answer's token, no key)
        rated, thumbed = call_ids[0], call_ids[1]
        _ok(feedback.post("/v1/feedback", json=_feedback(rated, "rating", 1), headers=auth["reviewer"]))
        token = {TOKEN_HEADER: answers[1].headers[TOKEN_HEADER]}
        _ok(feedback.post("/v1/feedback", json=_feedback(thumbed, "thumbs", 0), headers=token))

        def stored_feedback() -> bool | None:
            page = _ok(warehouse.get("/v1/events/feedback", params={"start": started}))
            return True if {row["data"]["call_id"] for row in page["items"]} >= {rated, thumbed} else None

        _until(stored_feedback, "both feedback events stored")

        # a review queue of the negative feedback: exactly those two calls
        queue = {"name": "e2e-negative", "source": "negative_feedback", "params": {"start": started},
                 "labels": ["fine", "off-topic"]}  # fmt: skip
        assert _ok(feedback.post("/v1/review/queues", json=queue, headers=auth["admin"]))["items"] == 2
        items = _ok(feedback.get("/v1/review/queues/e2e-negative/items", headers=auth["reader"]))["items"]
        assert {i["call_id"] for i in items} == {rated, thumbed}

        # one item claimed and reviewed with a correction
        item = _ok(feedback.post("/v1/review/queues/e2e-negative/next", headers=auth["reviewer"]))
        review = {"item_id": item["item_id"], "verdict": "reject", "label": "off-topic", "correction": CORRECTION}
        _ok(feedback.post("/v1/review/queues/e2e-negative/reviews", json=review, headers=auth["reviewer"]))
        progress = _ok(feedback.get("/v1/review/queues/e2e-negative", headers=auth["admin"]))["progress"]
        assert (progress["items"], progress["reviews"]) == (2, 1)

        # the correction as a DPO row, in TRL's conversational preference format
        def exported() -> dict[str, Any] | None:
            params = {"start": started, "source": "correction"}
            answer = feedback.get("/v1/exports/dpo", params=params, headers=auth["admin"])
            rows = [json.loads(line) for line in answer.text.splitlines()] if answer.status_code == 200 else []
            return next((r for r in rows if r["lineage"]["call_ids"] == [item["item_id"]]), None)

        row = _until(exported, "the review's correction in the DPO export")
    jsonschema.validate(row, TRL_SCHEMA)
    assert row["chosen"] == [{"role": "assistant", "content": CORRECTION}]
    answered = next(a.json() for a in answers if a.json()["id"] == item["item_id"])
    stored = redact_text(answered["choices"][0]["message"]["content"], PolicyBook().for_tenant("_"))  # docs/pii.md
    assert row["rejected"] == [{"role": "assistant", "content": stored}]
    assert row["prompt"][-1] == {"role": "user", "content": f"Where is parcel {call_ids.index(item['item_id'])}?"}
