"""Ed25519 signing and checking of audit-chain digests (``llmops.audit.digest.v1``, docs/adr/0034).

The governance-audit service signs with :class:`DigestSigner` (its configured private key);
``llmops audit verify`` checks with :class:`DigestChecker` (the public keys it is given, never ones read from
the warehouse it is checking). Keys travel as text: the 32-byte raw key in standard base64, or PEM
(PKCS#8 private, SubjectPublicKeyInfo public), so they fit an environment variable or a secret.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from llmops_schemas.v1.audit_chain import AuditDigest

__all__ = ["DigestChecker", "DigestSigner", "KeyFormatError", "generate_private_key", "key_id", "public_key_text"]

_RAW = serialization.Encoding.Raw


class KeyFormatError(ValueError):
    """A key text that is neither a base64 32-byte Ed25519 key nor a PEM Ed25519 key."""


def key_id(public_key: Ed25519PublicKey) -> str:
    """The first 16 hex digits of the SHA-256 of the raw public key: the ``key_id`` of a digest."""
    raw = public_key.public_bytes(_RAW, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def public_key_text(public_key: Ed25519PublicKey) -> str:
    """The public key as base64 of its 32 raw bytes (what ``llmops audit verify --public-key`` takes)."""
    return base64.b64encode(public_key.public_bytes(_RAW, serialization.PublicFormat.Raw)).decode()


def generate_private_key() -> str:
    """A new private key as base64 of its 32 raw bytes (for ``LLMOPS_AUDIT_SIGNING_KEY``)."""
    raw = Ed25519PrivateKey.generate().private_bytes(
        _RAW, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    return base64.b64encode(raw).decode()


def _raw_or_pem(text: str) -> bytes:
    """The key's bytes: PEM as it is, else decoded base64 that must be 32 bytes long."""
    stripped = text.strip()
    if stripped.startswith("-----BEGIN"):
        return stripped.encode()
    try:
        raw = base64.b64decode(stripped, validate=True)
    except (binascii.Error, ValueError):
        raise KeyFormatError("an Ed25519 key is 32 bytes in base64, or PEM") from None
    if len(raw) != 32:
        raise KeyFormatError(f"an Ed25519 key is 32 bytes; this one has {len(raw)}")
    return raw


def _private_key(text: str) -> Ed25519PrivateKey:
    data = _raw_or_pem(text)
    if len(data) == 32:
        return Ed25519PrivateKey.from_private_bytes(data)
    key = serialization.load_pem_private_key(data, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFormatError("the PEM private key is not an Ed25519 key")
    return key


def _public_key(text: str) -> Ed25519PublicKey:
    data = _raw_or_pem(text)
    if len(data) == 32:
        return Ed25519PublicKey.from_public_bytes(data)
    key = serialization.load_pem_public_key(data)
    if not isinstance(key, Ed25519PublicKey):
        raise KeyFormatError("the PEM public key is not an Ed25519 key")
    return key


class DigestSigner:
    """Signs digests of the audit chain with one private key."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._key = private_key
        self.public_key = private_key.public_key()
        self.key_id = key_id(self.public_key)

    @classmethod
    def from_text(cls, text: str) -> DigestSigner:
        """A signer of the private key ``text`` (base64 of 32 bytes, or PKCS#8 PEM); :class:`KeyFormatError`."""
        try:
            return cls(_private_key(text))
        except ValueError as exc:
            raise KeyFormatError(f"the audit signing key cannot be read: {exc}") from None

    def sign(
        self, tenant_id: str, *, digest_number: int, first_sequence: int, last_sequence: int, last_hash: str,
        signed_at: datetime,
    ) -> AuditDigest:  # fmt: skip
        """The signed digest of ``tenant_id``'s chain up to ``last_sequence`` (whose hash is ``last_hash``)."""
        fields: dict[str, Any] = {
            "digest_number": digest_number, "first_sequence": first_sequence, "last_sequence": last_sequence,
            "last_hash": last_hash, "signed_at": signed_at, "key_id": self.key_id,
        }  # fmt: skip
        unsigned = AuditDigest.model_construct(**fields, signature="")
        signature = self._key.sign(unsigned.signed_text(tenant_id).encode())
        return AuditDigest.model_validate({**fields, "signature": base64.b64encode(signature).decode()})


class DigestChecker:
    """Checks digest signatures against the public keys it was given, by ``key_id`` (old keys stay valid)."""

    def __init__(self, public_keys: Iterable[Ed25519PublicKey]) -> None:
        self._keys = {key_id(key): key for key in public_keys}

    @classmethod
    def from_texts(cls, texts: Iterable[str]) -> DigestChecker:
        """A checker of the public keys ``texts`` (base64 of 32 bytes, or PEM); :class:`KeyFormatError`."""
        try:
            return cls([_public_key(text) for text in texts])
        except ValueError as exc:
            raise KeyFormatError(f"an audit public key cannot be read: {exc}") from None

    def knows(self, key: str) -> bool:
        """Whether a digest signed with the key ``key`` (a ``key_id``) can be checked."""
        return key in self._keys

    def valid(self, tenant_id: str, digest: AuditDigest) -> bool:
        """Whether ``digest`` was signed, for ``tenant_id``, by the private key of a known public key."""
        public = self._keys.get(digest.key_id)
        if public is None:
            return False
        try:
            public.verify(base64.b64decode(digest.signature), digest.signed_text(tenant_id).encode())
        except InvalidSignature:
            return False
        return True
