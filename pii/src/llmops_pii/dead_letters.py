"""Protecting the original bytes a dead-letter topic keeps (ADR 0035): redacted before they reach Kafka.

A record ingest refuses goes to ``llmops.calls.raw.dlq`` with its bytes for a fix-and-replay. Those bytes are
redacted with the tenant's policy first (all of it: every target, every custom pattern), a blocked type
redacted like any other (the record must be kept to be fixed): JSON is walked and every string redacted, so
the document stays valid JSON; bytes that are not JSON are redacted as text. Bytes with nothing to redact are
kept as they are. A replay then carries what the warehouse would have stored anyway.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from llmops_pii.policy import PiiPolicy
from llmops_pii.redact import redact_text

__all__ = ["redact_dead_letter"]


def redact_dead_letter(value: bytes, policy: PiiPolicy) -> bytes:
    """``value`` with every finding replaced; never raises for blocked types."""
    if not value:
        return value
    kept = PiiPolicy(
        {t: ("redact" if a == "block" else a) for t, a in policy.actions.items()},
        policy.hash_secret,
        patterns=tuple(replace(p, action="redact") if p.action == "block" else p for p in policy.patterns),
    )

    text = value.decode("utf-8", errors="replace")
    try:
        document = json.loads(text)
    except ValueError:
        redacted_text = redact_text(text, kept)
        return value if redacted_text == text else redacted_text.encode()
    redacted = _walk(document, kept)
    return value if redacted == document else json.dumps(redacted, ensure_ascii=False, separators=(",", ":")).encode()


def _walk(value: Any, policy: PiiPolicy) -> Any:
    if isinstance(value, str):
        return redact_text(value, policy)
    if isinstance(value, list):
        return [_walk(v, policy) for v in value]
    if isinstance(value, dict):
        return {k: _walk(v, policy) for k, v in value.items()}
    return value
