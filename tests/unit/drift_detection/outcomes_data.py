"""Evaluation scores and feedback of drift-detection's windows, as the warehouse stores their payloads."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from llmops_schemas.v2 import EvaluationScored, FeedbackReceived


def scored(call_id: str, score: float, at: datetime, *, evaluator: str = "relevance", **fields: Any) -> dict[str, Any]:
    """One pass of ``evaluator`` (version 1, one metric of its name) on ``call_id``, as JSON."""
    item = {"score_id": f"s-{call_id}-{evaluator}-{at.timestamp()}", "metric": evaluator, "score": score,
            "evaluator": {"name": evaluator, "version": "1", "kind": "heuristic"}}  # fmt: skip
    data = {"evaluation_id": f"e-{call_id}-{evaluator}-{at.timestamp()}", "call_id": call_id, "app": "support-bot",
            "scores": [item], "judged_at": at, **fields}  # fmt: skip
    return EvaluationScored.model_validate(data).model_dump(mode="json", exclude_none=True)


def thumbs(call_id: str, up: bool, at: datetime, feedback_id: str | None = None) -> dict[str, Any]:
    """A thumbs feedback on ``call_id`` given at ``at``, as JSON."""
    data = FeedbackReceived(feedback_id=feedback_id or f"fb-{call_id}-{at.timestamp()}", call_id=call_id,
                            kind="thumbs", value=1 if up else 0, given_at=at)  # fmt: skip
    return data.model_dump(mode="json", exclude_none=True)


def later(at: datetime, seconds: float) -> datetime:
    return at + timedelta(seconds=seconds)
