"""bench_feedback's workload is valid feedback (every body the service would accept, ids unique) and its report
says whether the target is met."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import bench_feedback
from llmops_feedback.handlers import Accepted, FeedbackContext, FeedbackRules, Submitter, prepare_item


def test_every_item_of_every_body_is_valid_feedback_with_a_unique_id() -> None:
    context = FeedbackContext(Submitter("bench", key_id="k"), "/bench", datetime.now(UTC), FeedbackRules())
    batches = [json.loads(b)["items"] for b in bench_feedback.bodies(3, 50)]
    singles = [json.loads(b) for b in bench_feedback.bodies(10, 1)]
    items = [i for batch in batches for i in batch] + singles
    assert all(isinstance(prepare_item(i, 0, context), Accepted) for i in items)
    assert len({i["feedback_id"] for i in items}) == len(items) == 160
    assert {i["kind"] for i in items} == {"thumbs", "rating", "label", "correction"}


def test_the_report_holds_both_phases_and_the_verdict() -> None:
    args = bench_feedback.parse_args([])
    row = {"rate": 6000.0, "accepted": 180000.0, "errors": 0.0, "elapsed": 30.0, "feedback_cores": 0.3,
           "us_feedback": 40.0, "us_kafka": 20.0, "us_client": 9.0, "rest_cores": 1.5}  # fmt: skip
    lines = bench_feedback.report({"batch": row, "single": {**row, "rate": 150.0}}, args, "busy host")
    text = "\n".join(lines)
    assert lines[0] == bench_feedback.BEGIN and lines[-1] == bench_feedback.END
    assert "**met** (best phase 6,000/s)" in text and "| single | 150 |" in text and "25,000" in text
