"""Feedback tokens: what lets an end user rate one call without an API key (docs/adr/0021).

The gateway signs one token per answer (``X-LLMOps-Feedback-Token``); the feedback service verifies it. Both
use this module and the same secret (``LLMOPS_FEEDBACK_TOKEN_SECRET``), so the format is defined once::

    v1.<base64url(tenant \\x1f call id \\x1f expiry in unix seconds)>.<base64url(HMAC-SHA256)>

The HMAC covers the version prefix and the claims, so neither can be changed without the secret. The claims
are readable (they are no secret: the caller already holds the answer and its call id). Signing costs one
HMAC over some 200 bytes (a few microseconds): the keyed state is built once and copied per token.
``LLMOPS_FEEDBACK_TOKEN_PREVIOUS_SECRET`` is also accepted when verifying, so the secret can be rotated
without invalidating the tokens already handed out.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = [
    "TOKEN_HEADER",
    "FeedbackClaims",
    "FeedbackTokenError",
    "FeedbackTokenSettings",
    "FeedbackTokenSigner",
    "FeedbackTokenVerifier",
]

TOKEN_HEADER = "X-LLMOps-Feedback-Token"  # noqa: S105 - a header name, not a secret
_VERSION = "v1"
_SEPARATOR = "\x1f"
_MIN_SECRET_BYTES = 32
MAX_TOKEN_CHARS = 1024
"""Longer than any token this module signs (tenant <= 63, call id <= 128 characters): refused unread."""


class FeedbackTokenSettings(BaseSettings):
    """The shared secret and lifetime of feedback tokens (unprefixed: the gateway and the feedback service
    read the same variables)."""

    model_config = SettingsConfigDict(env_prefix="LLMOPS_FEEDBACK_TOKEN_", extra="ignore", frozen=True)

    secret: SecretStr | None = Field(default=None, description="HMAC key, at least 32 bytes; unset: no tokens")
    previous_secret: SecretStr | None = Field(default=None, description="Also accepted when verifying (rotation)")
    ttl_s: int = Field(default=7 * 24 * 3600, ge=60, le=90 * 24 * 3600, description="How long a token is valid")

    @field_validator("secret", "previous_secret", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        """``VAR=`` (compose's ``${VAR:-}``) means no secret, not an empty one."""
        return None if value == "" else value

    @field_validator("secret", "previous_secret")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            _key(value)
        return value

    def signer(self) -> FeedbackTokenSigner | None:
        """The gateway's signer, or None when no secret is configured (answers then carry no token)."""
        return FeedbackTokenSigner(_key(self.secret), ttl_s=self.ttl_s) if self.secret else None

    def verifier(self) -> FeedbackTokenVerifier | None:
        """The feedback service's verifier, or None when no secret is configured (tokens are refused)."""
        if self.secret is None:
            return None
        keys = [_key(self.secret)] + ([_key(self.previous_secret)] if self.previous_secret else [])
        return FeedbackTokenVerifier(keys)


def _key(secret: SecretStr) -> bytes:
    key = secret.get_secret_value().encode()
    if len(key) < _MIN_SECRET_BYTES:
        raise ValueError(f"a feedback token secret must be at least {_MIN_SECRET_BYTES} bytes")
    return key


class FeedbackTokenError(ValueError):
    """A token that is not valid; ``reason`` is ``malformed``, ``forged`` or ``expired`` (the message says more)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class FeedbackClaims:
    """What a valid token grants: feedback on ``call_id`` of ``tenant_id`` until ``expires_at`` (unix seconds)."""

    tenant_id: str
    call_id: str
    expires_at: int


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class FeedbackTokenSigner:
    """Signs tokens for the gateway's answers."""

    def __init__(self, key: bytes, *, ttl_s: int, clock: Callable[[], float] = time.time) -> None:
        self._mac = hmac.new(key, digestmod=hashlib.sha256)
        self._ttl_s = ttl_s
        self._clock = clock

    def sign(self, tenant_id: str, call_id: str) -> str:
        """A token for feedback on ``call_id`` of ``tenant_id``, valid for the configured lifetime."""
        expires_at = int(self._clock()) + self._ttl_s
        claims = _b64(f"{tenant_id}{_SEPARATOR}{call_id}{_SEPARATOR}{expires_at}".encode())
        signed = f"{_VERSION}.{claims}"
        mac = self._mac.copy()
        mac.update(signed.encode("ascii"))
        return f"{signed}.{_b64(mac.digest())}"


class FeedbackTokenVerifier:
    """Verifies tokens for the feedback service; raises :class:`FeedbackTokenError` with a precise reason."""

    def __init__(self, keys: Sequence[bytes], *, clock: Callable[[], float] = time.time) -> None:
        if not keys:
            raise ValueError("a verifier needs at least one key")
        self._macs = [hmac.new(key, digestmod=hashlib.sha256) for key in keys]
        self._clock = clock

    def verify(self, token: str) -> FeedbackClaims:
        """The claims of ``token`` when it was signed with one of the keys and has not expired."""
        if len(token) > MAX_TOKEN_CHARS:
            raise FeedbackTokenError("malformed", f"the feedback token is longer than {MAX_TOKEN_CHARS} characters")
        version, _, rest = token.partition(".")
        claims_text, _, signature_text = rest.partition(".")
        if version != _VERSION or not claims_text or not signature_text:
            raise FeedbackTokenError("malformed", "the feedback token is not of the form v1.<claims>.<signature>")
        try:
            signature = _unb64(signature_text)
            fields = _unb64(claims_text).decode("utf-8").split(_SEPARATOR)
        except (binascii.Error, ValueError):
            raise FeedbackTokenError("malformed", "the feedback token is not valid base64url") from None
        if not any(hmac.compare_digest(self._digest(mac, version, claims_text), signature) for mac in self._macs):
            raise FeedbackTokenError("forged", "the feedback token's signature is not valid")
        # Signed by us, so the fields are well-formed; checked anyway so a defect cannot turn into a 500.
        if len(fields) != 3 or not fields[2].isdigit():
            raise FeedbackTokenError("malformed", "the feedback token's claims are not tenant, call id and expiry")
        tenant_id, call_id, expires = fields
        if int(expires) <= self._clock():
            raise FeedbackTokenError("expired", "the feedback token has expired; feedback on this call is closed")
        return FeedbackClaims(tenant_id=tenant_id, call_id=call_id, expires_at=int(expires))

    @staticmethod
    def _digest(mac: hmac.HMAC, version: str, claims_text: str) -> bytes:
        own = mac.copy()
        own.update(f"{version}.{claims_text}".encode("ascii", errors="replace"))
        return own.digest()
