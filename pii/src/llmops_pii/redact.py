"""Applying a policy to a text: every finding replaced as its type's action says, or the text refused.

- ``redact``: ``[EMAIL]``, the type's label;
- ``mask``: the value's shape with most characters hidden (``j***@example.com``, ``**** **** **** 4242``,
  ``P. S.`` for a name), for people who need to recognise a value without reading it;
- ``hash``: ``[EMAIL:3f1c9a0d7e2b5c48]``, a keyed hash of the normalised value (HMAC-SHA256 with the tenant's
  secret, 64 bits shown): equal values give equal tokens within a tenant, so joins and counts still work;
- ``drop``: the whole text that holds the value becomes ``[REDACTED]`` (a policy record's ``drop``);
- ``block``: :class:`PiiBlocked`: the caller refuses the whole record.

The result is deterministic for a given text and policy (a retried call yields the same event).
"""

from __future__ import annotations

import hashlib
import hmac
import re

from llmops_pii.detector import find, resolve
from llmops_pii.findings import Finding
from llmops_pii.patterns import find_custom
from llmops_pii.policy import PiiPolicy

__all__ = ["DROPPED", "PiiBlocked", "redact_text", "replacement"]

DROPPED = "[REDACTED]"
_KEEP_LAST_FOUR: frozenset[str] = frozenset({"credit_card", "iban", "phone", "national_id"})
_WORD_CHAR = re.compile(r"[A-Za-z0-9]")


class PiiBlocked(Exception):
    """The tenant's policy blocks records that contain these types."""

    def __init__(self, types: list[str]) -> None:
        super().__init__(f"the tenant's PII policy blocks records containing: {', '.join(types)}")
        self.types = types


def redact_text(text: str, policy: PiiPolicy) -> str:
    """``text`` with the policy applied; raises :class:`PiiBlocked` when a blocked type occurs."""
    if not text or not (policy.actions or policy.patterns):
        return text
    findings = find(text, policy.types)
    if policy.patterns:
        custom = find_custom(text, policy.patterns)
        findings = resolve(findings + custom) if custom else findings
    if not findings:
        return text
    blocked = sorted({f.type for f in findings if policy.action_of(f.type) == "block"})
    if blocked:
        raise PiiBlocked(blocked)
    if any(policy.action_of(f.type) == "drop" for f in findings):
        return DROPPED
    parts, position = [], 0
    for finding in findings:
        parts += [text[position : finding.start], replacement(finding, text, policy)]
        position = finding.end
    parts.append(text[position:])
    return "".join(parts)


def replacement(finding: Finding, text: str, policy: PiiPolicy) -> str:
    """What ``finding``'s value becomes under ``policy``."""
    value = text[finding.start : finding.end]
    action = policy.action_of(finding.type)
    if action == "hash":
        digest = hmac.new(policy.hash_secret, _normalised(finding.type, value).encode(), hashlib.sha256)
        return f"[{finding.type.upper()}:{digest.hexdigest()[:16]}]"
    if action == "mask":
        return _mask(finding.type, value)
    return f"[{finding.type.upper()}]"


def _normalised(kind: str, value: str) -> str:
    if kind in _KEEP_LAST_FOUR:
        return kind + "|" + "".join(_WORD_CHAR.findall(value)).upper()
    return kind + "|" + " ".join(value.split()).lower()


def _mask(kind: str, value: str) -> str:
    if kind == "email":
        local, _, domain = value.partition("@")
        return f"{local[:1]}***@{domain}"
    if kind in _KEEP_LAST_FOUR:
        hide = len(_WORD_CHAR.findall(value)) - 4
        out = []
        for char in value:
            if _WORD_CHAR.match(char) and hide > 0:
                hide -= 1
                char = "*"
            out.append(char)
        return "".join(out)
    if kind == "person":
        return " ".join(f"{word[0]}." for word in value.split())
    if kind in ("api_key", "jwt"):
        return value[:4] + "****"
    return f"[{kind.upper()}]"  # addresses, dates of birth, IPs, private keys, custom patterns: none is safe to show
