"""Types shared by several v1 payloads."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    WithJsonSchema,
)

from llmops_schemas.envelope import EventPayload

__all__ = [
    "AMOUNT_PATTERN",
    "Amount",
    "CompactedPayload",
    "Currency",
    "Fraction",
    "Identifier",
    "Labels",
    "MediumText",
    "Name",
    "NonNegativeScore",
    "PromptRef",
    "Score",
    "Sha256Hex",
    "ShortText",
    "Slug",
    "StrictModel",
    "Tags",
]

Identifier = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@/-]*$")]
"""An id chosen by a client or a service: letters, digits and ``._:@/-``, at most 128 characters."""
Name = Annotated[str, StringConstraints(min_length=1, max_length=256)]
ShortText = Annotated[str, StringConstraints(max_length=1024)]
Tags = Annotated[list[Annotated[str, StringConstraints(min_length=1, max_length=128)]], Field(max_length=64)]
Labels = Annotated[
    dict[Annotated[str, StringConstraints(min_length=1, max_length=128)], ShortText], Field(max_length=64)
]
"""Free-form string metadata: at most 64 keys, keys up to 128 and values up to 1,024 characters."""
MediumText = Annotated[str, StringConstraints(max_length=16_384)]
"""A paragraph or a few: an explanation, a comment, a description (at most 16,384 characters)."""
Slug = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
"""A name that is also part of a record key: letters, digits and ``_.-`` (no ``:``, ``/`` or ``@``)."""
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
"""An ISO 4217 alphabetic currency code such as ``USD`` or ``EUR``."""
Sha256Hex = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
"""A SHA-256 digest as 64 lower-case hexadecimal digits."""
Fraction = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False, strict=True)]
"""A share between 0 and 1 inclusive."""
Score = Annotated[float, Field(ge=-1e12, le=1e12, allow_inf_nan=False)]
"""A finite measurement (JSON has no NaN or infinity, so neither may a payload)."""
NonNegativeScore = Annotated[float, Field(ge=0, le=1e12, allow_inf_nan=False)]
"""A finite measurement that cannot be negative, such as a distance between distributions."""

AMOUNT_PATTERN = r"^[0-9]{1,18}(\.[0-9]{1,12})?$"
"""Wire form of an :data:`Amount`: plain digits, an optional fraction of up to 12 digits, no exponent."""
_AMOUNT_RE = re.compile(AMOUNT_PATTERN)


def _parse_amount(value: Any) -> Any:
    """Accept a ``Decimal`` or a decimal string; refuse floats, which cannot hold amounts exactly."""
    if isinstance(value, str):
        if not _AMOUNT_RE.fullmatch(value):
            raise ValueError("an amount is a string of digits with an optional fraction, such as '0.0025'")
        return Decimal(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError("an amount must be finite")
        return value
    raise ValueError("an amount must be a decimal string (or a Decimal in Python), never a number")


def _format_amount(value: Decimal) -> str:
    return format(value, "f")


Amount = Annotated[
    Decimal,
    BeforeValidator(_parse_amount),
    Field(ge=0, lt=10**18, max_digits=30, decimal_places=12),
    PlainSerializer(_format_amount, return_type=str, when_used="json"),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": AMOUNT_PATTERN,
            "description": "A non-negative decimal amount as a string, e.g. '0.0025' (never a JSON number)",
        }
    ),
]
"""A non-negative money amount: a :class:`~decimal.Decimal` in Python, a decimal string on the wire.

Floats are refused, even from Python code, so that no amount is ever rounded on its way in.
"""


class StrictModel(BaseModel):
    """A nested part of a payload: frozen and strict like the payload itself."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class CompactedPayload(EventPayload):
    """A payload published to a compacted topic: the latest record per key is the entity's state.

    The record key is ``<tenant>:<entity_key()>`` (see ``llmops_schemas.registry.record_key``), so
    compaction keeps one record per tenant and entity; a tombstone (a record with a null value) under
    that key deletes the entity.
    """

    def entity_key(self) -> str:
        """The part of the record key after the tenant, naming the entity this record describes."""
        raise NotImplementedError(f"{type(self).__name__} must define entity_key()")


class PromptRef(StrictModel):
    """Which registered prompt version produced a call's messages."""

    name: Name
    version: int = Field(strict=True, ge=1)
    label: Name | None = None
