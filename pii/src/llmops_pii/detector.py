"""Finds every kind of personal data and secret in a text: the recognisers, then one span per region of text.

Overlapping findings are resolved by keeping the earlier one, the longer one at the same start, and on equal
spans the more specific type (a JWT's parts are not also an API key; an SSN is not also a phone number).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from llmops_pii.findings import PII_TYPES, Finding, PiiType
from llmops_pii.recognisers import addresses, dates, names, national_ids, numbers, phones, secrets

__all__ = ["RECOGNISERS", "find", "resolve"]

RECOGNISERS: tuple[Callable[[str], list[Finding]], ...] = (
    secrets.find,
    numbers.find,
    national_ids.find,
    phones.find,
    dates.find,
    addresses.find,
    names.find,
)
_ORDER: tuple[PiiType, ...] = (
    "private_key",
    "jwt",
    "api_key",
    "email",
    "credit_card",
    "iban",
    "national_id",
    "ip_address",
    "date_of_birth",
    "phone",
    "postal_address",
    "person",
)
"""Most specific first: on equal spans the earlier type wins."""
_PRIORITY: dict[PiiType, int] = {t: i for i, t in enumerate(_ORDER)}
assert set(_PRIORITY) == set(PII_TYPES)


def find(text: str, types: Iterable[PiiType] | None = None) -> list[Finding]:
    """Non-overlapping findings in ``text``, in order; only of ``types`` when given."""
    found = [finding for recognise in RECOGNISERS for finding in recognise(text)]
    if types is not None:
        wanted = set(types)
        found = [f for f in found if f.type in wanted]
    return resolve(found)


def resolve(found: list[Finding]) -> list[Finding]:
    """One finding per region: the earliest, then the longest, then the most specific type."""
    kept: list[Finding] = []
    for finding in sorted(found, key=lambda f: (f.start, -(f.end - f.start), _PRIORITY[f.type])):
        if kept and finding.start < kept[-1].end:
            if finding.end > kept[-1].end and _PRIORITY[finding.type] < _PRIORITY[kept[-1].type]:
                kept[-1] = Finding(finding.type, kept[-1].start, finding.end)
            continue
        kept.append(finding)
    return kept
