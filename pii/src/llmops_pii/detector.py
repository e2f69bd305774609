"""Finds every kind of personal data and secret in a text: the recognisers, then one span per region of text.

Overlapping findings are resolved by keeping the earlier one, the longer one at the same start, and on equal
spans the more specific type (a JWT's parts are not also an API key; an SSN is not also a phone number).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache

from llmops_pii.findings import PII_TYPES, Finding, PiiType
from llmops_pii.recognisers import addresses, dates, names, national_ids, numbers, phones, secrets

__all__ = ["RECOGNISERS", "find", "resolve"]


@dataclass(frozen=True)
class Recogniser:
    """A recogniser, the types it reports, and whether it needs a digit in the text (most do: a text without
    one skips them all after a single scan)."""

    find: Callable[[str], list[Finding]]
    types: frozenset[PiiType]
    needs_digit: bool


RECOGNISERS: tuple[Recogniser, ...] = (
    Recogniser(secrets.find, frozenset({"api_key", "jwt", "private_key"}), needs_digit=False),
    Recogniser(numbers.find_emails, frozenset({"email"}), needs_digit=False),
    Recogniser(names.find, frozenset({"person"}), needs_digit=False),
    Recogniser(numbers.find, frozenset({"credit_card", "iban", "ip_address"}), needs_digit=True),
    Recogniser(national_ids.find, frozenset({"national_id"}), needs_digit=True),
    Recogniser(phones.find, frozenset({"phone"}), needs_digit=True),
    Recogniser(dates.find, frozenset({"date_of_birth"}), needs_digit=True),
    Recogniser(addresses.find, frozenset({"postal_address"}), needs_digit=True),
)
_DIGIT = re.compile(r"\d")
_ALL: frozenset[PiiType] = frozenset(PII_TYPES)
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
_PRIORITY: dict[str, int] = {t: i for i, t in enumerate(_ORDER)}
assert set(_PRIORITY) == set(PII_TYPES)
_CUSTOM = len(_ORDER)  # a tenant's own pattern yields to a built-in type on the same span


def find(text: str, types: Iterable[PiiType] | None = None) -> list[Finding]:
    """Non-overlapping findings in ``text``, in order; only of ``types`` when given."""
    wanted = _ALL if types is None else frozenset(types)
    always, with_digits = _plan(wanted)
    found: list[Finding] = []
    for recogniser in always:
        found += recogniser.find(text)
    if with_digits and _DIGIT.search(text):
        for recogniser in with_digits:
            found += recogniser.find(text)
    if not found:
        return found
    return resolve(found if wanted is _ALL else [f for f in found if f.type in wanted])


@cache
def _plan(wanted: frozenset[PiiType]) -> tuple[tuple[Recogniser, ...], tuple[Recogniser, ...]]:
    """The recognisers that report a wanted type: those that run on any text, those that need a digit."""
    useful = [r for r in RECOGNISERS if r.types & wanted]
    return tuple(r for r in useful if not r.needs_digit), tuple(r for r in useful if r.needs_digit)


def resolve(found: list[Finding]) -> list[Finding]:
    """One finding per region: the earliest, then the longest, then the most specific type.

    A later finding that overlaps and reaches further extends the region: with its type when that is more
    specific, with the region's type when it is a tenant's custom pattern (no part of its value stays).
    """
    kept: list[Finding] = []
    for finding in sorted(found, key=lambda f: (f.start, -(f.end - f.start), _priority(f))):
        if kept and finding.start < kept[-1].end:
            last = kept[-1]
            if finding.end > last.end and _priority(finding) < _priority(last):
                kept[-1] = Finding(finding.type, last.start, finding.end)
            elif finding.end > last.end and finding.type not in _PRIORITY:
                kept[-1] = Finding(last.type, last.start, finding.end)
            continue
        kept.append(finding)
    return kept


def _priority(finding: Finding) -> int:
    return _PRIORITY.get(finding.type, _CUSTOM)
