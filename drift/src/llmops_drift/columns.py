"""Feature kinds, the rule that infers them, and the cleaning each kind's values go through before a test.

Inference (``infer_kind``), over a column's present values (None and NaN are absent):
- lists of numbers are ``embedding``;
- numbers (booleans excepted) are ``numeric``;
- strings are ``text`` when they average at least ``TEXT_MIN_WORDS`` whitespace-separated words, else
  ``categorical`` (a model name, a language, a status);
- booleans and anything mixed are ``categorical`` (compared as strings).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "MISSING",
    "TEXT_MIN_WORDS",
    "Kind",
    "NumericColumn",
    "categorical_values",
    "infer_kind",
    "numeric_column",
    "vectors",
]

TEXT_MIN_WORDS = 3.0
MISSING = "<missing>"
"""The category an absent value of a categorical feature is counted as (a rise in missing values is drift too)."""


class Kind(StrEnum):
    """What a feature is, which decides the test it gets."""

    NUMERIC = "numeric"
    CATEGORICAL = "categorical"
    TEXT = "text"
    EMBEDDING = "embedding"


def _present(value: object) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def infer_kind(values: Sequence[object]) -> Kind:
    """The kind of a column from its present values (``categorical`` when there are none)."""
    present = [value for value in values if _present(value)]
    if present and all(isinstance(v, list) and v and all(_is_number(x) for x in v) for v in present):
        return Kind.EMBEDDING
    if present and all(_is_number(value) for value in present):
        return Kind.NUMERIC
    if present and all(isinstance(value, str) for value in present):
        words = sum(len(str(value).split()) for value in present) / len(present)
        return Kind.TEXT if words >= TEXT_MIN_WORDS else Kind.CATEGORICAL
    return Kind.CATEGORICAL


@dataclass(frozen=True)
class NumericColumn:
    """A numeric column's finite values, and how many values were left out and why."""

    values: NDArray[np.float64]
    missing: int
    infinite: int
    not_numbers: int


def numeric_column(values: Sequence[object]) -> NumericColumn:
    """The finite numbers of ``values``; absent, infinite and non-numeric values are counted, not tested."""
    present = [value for value in values if _present(value)]
    array = np.asarray([float(v) for v in present if _is_number(v)], dtype=np.float64)  # type: ignore[arg-type]
    finite = np.isfinite(array)
    return NumericColumn(
        values=array[finite],
        missing=len(values) - len(present),
        infinite=int((~finite).sum()),
        not_numbers=len(present) - len(array),
    )


def categorical_values(values: Sequence[object]) -> list[str]:
    """Every value as a category: absent ones are ``MISSING``, others their string (``True`` is ``"True"``)."""
    return [str(value) if _present(value) else MISSING for value in values]


def vectors(name: str, values: Sequence[object]) -> tuple[NDArray[np.float64], list[int]]:
    """The embeddings of ``values`` as the rows of an array, and the positions they came from.

    Absent, empty and non-list values and vectors with a non-finite component are left out; vectors of
    different dimensions are a ``ValueError`` naming ``name`` (they cannot come from one embedder).
    """
    found = [(i, value) for i, value in enumerate(values) if isinstance(value, list) and value]
    dimensions = sorted({len(value) for _, value in found})
    if len(dimensions) > 1:
        raise ValueError(f"feature {name!r}: embeddings of different dimensions ({dimensions})")
    array = np.asarray([value for _, value in found], dtype=np.float64)
    if not found:
        return array, []
    finite = np.isfinite(array).all(axis=1)
    return array[finite], [i for (i, _), keep in zip(found, finite, strict=True) if keep]
