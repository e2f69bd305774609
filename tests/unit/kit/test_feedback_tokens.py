"""The feedback token the gateway signs and the feedback service verifies: one format, one module."""

from __future__ import annotations

import base64

import pytest
from llmops_kit.feedback_tokens import (
    FeedbackClaims,
    FeedbackTokenError,
    FeedbackTokenSettings,
    FeedbackTokenSigner,
    FeedbackTokenVerifier,
)
from pydantic import ValidationError

KEY = b"k" * 32
OLD_KEY = b"o" * 32
T0 = 1_800_000_000.0


def sign(tenant: str = "acme", call_id: str = "chatcmpl-1", *, key: bytes = KEY, ttl_s: int = 600) -> str:
    return FeedbackTokenSigner(key, ttl_s=ttl_s, clock=lambda: T0).sign(tenant, call_id)


def verify(token: str, *, at: float = T0, keys: tuple[bytes, ...] = (KEY,)) -> FeedbackClaims:
    return FeedbackTokenVerifier(keys, clock=lambda: at).verify(token)


def test_a_token_carries_tenant_call_and_expiry() -> None:
    token = sign(call_id="call/with:odd.chars@1")
    assert token.startswith("v1.")
    assert verify(token) == FeedbackClaims("acme", "call/with:odd.chars@1", int(T0) + 600)


def test_a_token_expires() -> None:
    with pytest.raises(FeedbackTokenError, match="expired") as caught:
        verify(sign(), at=T0 + 600)
    assert caught.value.reason == "expired"


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda t: t[:-10] + ("A" if t[-10] != "A" else "B") + t[-9:], id="signature"),
        pytest.param(
            lambda t: (
                "v1."
                + base64.urlsafe_b64encode(b"beta\x1fchatcmpl-1\x1f9999999999").decode().rstrip("=")
                + "."
                + t.split(".")[2]
            ),
            id="claims",
        ),
        pytest.param(lambda t: sign(key=b"x" * 32), id="other-secret"),
    ],
)
def test_a_changed_token_is_forged(tamper: object) -> None:
    assert callable(tamper)
    with pytest.raises(FeedbackTokenError, match="signature") as caught:
        verify(tamper(sign()))
    assert caught.value.reason == "forged"


@pytest.mark.parametrize("token", ["", "v1", "v2.abc.def", "v1..sig", "v1.abc.", "v1.a!b.c", "v1.abc.d" * 200])
def test_a_malformed_token_is_refused_before_any_hmac(token: str) -> None:
    with pytest.raises(FeedbackTokenError) as caught:
        verify(token)
    assert caught.value.reason == "malformed"


def test_the_previous_secret_is_still_accepted_during_a_rotation() -> None:
    old = sign(key=OLD_KEY)
    assert verify(old, keys=(KEY, OLD_KEY)).call_id == "chatcmpl-1"
    with pytest.raises(FeedbackTokenError):
        verify(old, keys=(KEY,))


def test_settings_sign_and_verify_with_the_same_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMOPS_FEEDBACK_TOKEN_SECRET", "s" * 40)
    settings = FeedbackTokenSettings()
    signer, verifier = settings.signer(), settings.verifier()
    assert signer is not None and verifier is not None
    assert verifier.verify(signer.sign("acme", "c-1")).tenant_id == "acme"
    assert "s" * 40 not in repr(settings)


def test_an_empty_secret_means_no_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMOPS_FEEDBACK_TOKEN_SECRET", "")
    settings = FeedbackTokenSettings()
    assert (settings.signer(), settings.verifier()) == (None, None)


def test_a_short_secret_is_refused_at_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMOPS_FEEDBACK_TOKEN_SECRET", "short")
    with pytest.raises(ValidationError, match="at least 32 bytes"):
        FeedbackTokenSettings()
