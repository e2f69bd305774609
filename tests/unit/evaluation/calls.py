"""Recorded calls and evaluator configurations for the evaluation tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from llmops_schemas.envelope import CloudEvent
from llmops_schemas.v1 import EvaluatorConfigured
from llmops_schemas.v2 import CallRecorded

STARTED = datetime(2026, 3, 14, 9, 26, 53, tzinfo=UTC)


def call(
    tenant: str = "acme",
    *,
    call_id: str = "call-1",
    output: str | None = "Your parcel left the warehouse.",
    app: str = "support-bot",
    **fields: Any,
) -> CloudEvent[CallRecorded]:
    """A v2 call event of ``tenant`` whose first choice answered ``output``."""
    data: dict[str, Any] = {
        "call_id": call_id,
        "app": app,
        "model": "gpt-4o-mini",
        "provider": "openai",
        "messages": [{"role": "user", "content": "Where is my parcel?"}],
        "choices": [{"output": output, "finish_reason": "stop"}],
        "started_at": STARTED,
        "latency_ms": 12.5,
        **fields,
    }
    return CloudEvent.wrap(CallRecorded.model_validate(data), source="/services/ingest", tenant_id=tenant)


def configured(name: str, kind: str, params: dict[str, Any] | None = None, **fields: Any) -> EvaluatorConfigured:
    """An evaluator configuration for app ``support-bot`` (every call sampled unless said otherwise)."""
    return EvaluatorConfigured(
        name=name, kind=kind, params=params or {}, app=fields.pop("app", "support-bot"), updated_at=STARTED, **fields
    )
