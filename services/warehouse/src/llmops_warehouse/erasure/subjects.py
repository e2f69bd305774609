"""What a subject of each type matches, and the keyed digest the ledger keeps instead of the value.

The rules (docs/governance.md#erasure, docs/adr/0043), one place for the SQL that erases and the check on insert:

* ``user_id``, ``session_id``, ``call_id``: the identifier exactly, where a row stores that identifier (a call's
  ``user_id``/``session_id``/``call_id``; the ``user_id``/``session_id`` of feedback and cost records).
* ``email``: case-insensitive after trimming, in a call's ``user_id`` or any of its metadata values, and in the
  ``user_id`` of feedback and cost records. Free text is the PII redactor's business (it runs before storage).
* ``hashed_id``: the PII engine's keyed hash, given as its token (``[EMAIL:0123456789abcdef]``) or its 16 hex
  digits: an identifier or metadata value equal to it, or the token anywhere in a call's texts; any other
  value (an application's own pseudonym) matches identifiers and metadata values exactly.

Everything tied to an erased call (scores, feedback, costs, review items, dataset examples made from it) goes
with it, whatever subject matched the call.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Iterator, Mapping
from functools import lru_cache
from typing import Any

import msgspec

__all__ = ["HASH_TOKEN_RE", "SUBJECT_TYPES", "SubjectDigester", "candidates", "normalise", "payload_text", "text_token"]

SUBJECT_TYPES = ("user_id", "session_id", "call_id", "email", "hashed_id")
HASH_TOKEN_RE = re.compile(r"\[[A-Z][A-Z0-9_]*:([0-9a-f]{16})\]")
"""The PII engine's hash replacement (``llmops_pii.redact``): ``[<TYPE>:<16 hex digits>]``."""
_CACHED_DIGESTS = 65_536
"""Digests of recent values kept (identifiers repeat: a tenant with erasures digests each of its rows' ids)."""
_HEX16 = re.compile(r"[0-9a-f]{16}")
_TEXT_TOKEN_RE = re.compile(r":([0-9a-f]{16})\]")


def normalise(subject_type: str, value: str) -> str:
    """The form a value of ``subject_type`` is compared (and digested) in."""
    value = value.strip()
    if subject_type == "email":
        return value.lower()
    if subject_type == "hashed_id":
        token = HASH_TOKEN_RE.fullmatch(value)
        if token:
            return token.group(1)
        return value.lower() if _HEX16.fullmatch(value.lower()) else value
    return value


def text_token(normalised_hashed_id: str) -> str | None:
    """What a hashed id looks like inside a text (``:<hex>]``), or None when it is no PII-engine hash."""
    return f":{normalised_hashed_id}]" if _HEX16.fullmatch(normalised_hashed_id) else None


class SubjectDigester:
    """HMAC-SHA256 of (tenant, subject type, normalised value) under the warehouse's erasure key.

    Keyed so that whoever reads the ledger cannot confirm a guessed e-mail address by hashing it; per tenant so
    one tenant's erasure never suppresses another tenant's rows."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("the erasure key must be at least 16 bytes")
        self._key = key

        self._cached = lru_cache(maxsize=_CACHED_DIGESTS)(self._digest)

    def __call__(self, tenant_id: str, subject_type: str, normalised: str) -> str:
        return self._cached(tenant_id, subject_type, normalised)

    def _digest(self, tenant_id: str, subject_type: str, normalised: str) -> str:
        message = f"{tenant_id}\x1f{subject_type}\x1f{normalised}".encode()
        return hmac.digest(self._key, message, hashlib.sha256).hex()


def candidates(
    identifiers: Mapping[str, str | None],
    metadata: Iterable[str] = (),
    text: str | None = None,
    *,
    types: Iterable[str] = SUBJECT_TYPES,
) -> Iterator[tuple[str, str]]:
    """The (subject type, normalised value) pairs a row could be erased under: ``identifiers`` maps the row's
    ``user_id``/``session_id``/``call_id`` (those it has), ``metadata`` its metadata values, ``text`` its texts
    (calls only; searched for hash tokens). Only ``types`` are produced (those the tenant has erasures of)."""
    wanted = set(types)
    for field in ("user_id", "session_id", "call_id"):
        value = identifiers.get(field)
        if value and field in wanted:
            yield field, value
    values = [v for v in (identifiers.get("user_id"), identifiers.get("session_id")) if v]
    metadata = list(metadata)
    if "email" in wanted:
        for value in (identifiers.get("user_id"), *metadata):
            if value:
                yield "email", normalise("email", value)
    if "hashed_id" in wanted:
        for value in (*values, *metadata):
            yield "hashed_id", normalise("hashed_id", value)
        for found in _TEXT_TOKEN_RE.findall(text or ""):
            yield "hashed_id", found


def payload_text(payload: Any) -> str:
    """A payload's JSON text, where hash tokens are looked for (a struct or a pydantic model)."""
    if isinstance(payload, msgspec.Struct):
        return msgspec.json.encode(payload).decode()
    return str(payload.model_dump_json())
