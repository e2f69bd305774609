"""What a recogniser reports: a typed span of a text."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, get_args

__all__ = ["PII_TYPES", "Finding", "PiiType", "context_before", "keywords"]

PiiType = Literal[
    "email",
    "phone",
    "credit_card",
    "iban",
    "national_id",
    "ip_address",
    "date_of_birth",
    "postal_address",
    "person",
    "api_key",
    "jwt",
    "private_key",
]
PII_TYPES: tuple[PiiType, ...] = get_args(PiiType)


@dataclass(frozen=True, slots=True)
class Finding:
    """``text[start:end]`` is personal data or a secret of ``type``: a :data:`PiiType`, or the name of a tenant's
    custom pattern (:mod:`llmops_pii.patterns`)."""

    type: str
    start: int
    end: int


def context_before(text: str, start: int, width: int = 40) -> str:
    """The ``width`` characters before ``start``, lower-cased: what context rules look at."""
    return text[max(0, start - width) : start].lower()


def keywords(*words: str) -> re.Pattern[str]:
    """A pattern matching any of ``words`` as whole words (so "sin" is not found in "using")."""
    return re.compile(r"(?<![a-z])(?:" + "|".join(re.escape(w) for w in words) + r")(?![a-z])")
