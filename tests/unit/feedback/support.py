"""What the feedback unit tests share: keys, a valid item, a token signer on a fixed clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from llmops_kit.feedback_tokens import FeedbackTokenSigner

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
SECRET = b"a-test-secret-of-at-least-32-bytes-0000"
KEYS = {
    "reviewer": ("llmops_reviewer_key_for_tenant_acme_0001", "acme", "reviewer"),
    "writer": ("llmops_writer_key_for_tenant_acme_00001", "acme", "writer"),
    "reader": ("llmops_reader_key_for_tenant_acme_00001", "acme", "reader"),
    "other": ("llmops_reviewer_key_for_tenant_beta_0001", "beta", "reviewer"),
}


def bearer(name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {KEYS[name][0]}"}


def item(**overrides: Any) -> dict[str, Any]:
    """A valid thumbs-up as a client sends it; keyword overrides replace fields (None removes one)."""
    body: dict[str, Any] = {
        "feedback_id": "fb-1",
        "call_id": "chatcmpl-1",
        "kind": "thumbs",
        "value": 1,
        "given_at": (NOW - timedelta(seconds=5)).isoformat(),
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


def signer(*, ttl_s: int = 3600, at: datetime = NOW, key: bytes = SECRET) -> FeedbackTokenSigner:
    return FeedbackTokenSigner(key, ttl_s=ttl_s, clock=lambda: at.timestamp())
