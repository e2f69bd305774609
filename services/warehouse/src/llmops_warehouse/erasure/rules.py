"""Which tables hold what about a subject: the one mapping that both the erasing SQL and the insert check read.

A :class:`TableRule` names a table's columns (SQL) and the payload attributes (Python, on insert) that hold
call ids and subject identifiers. Calls are matched by subject; every other table by the erased calls' ids,
and feedback and cost records also by the ``user_id``/``session_id`` they carry themselves.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["CALLS", "RULES", "TableRule", "rule_for"]

Getter = Callable[[Any], Any]


def _attr(name: str) -> Getter:
    return lambda payload: getattr(payload, name, None)


def _json(name: str) -> str:
    return f"JSONExtractString(payload, '{name}')"


@dataclass(frozen=True)
class TableRule:
    """How one table refers to calls and subjects.

    ``call_refs``: (SQL expression, payload getter) of each call id the row refers to. ``identifiers``: field
    name (``user_id``/``session_id``/``call_id``) -> (SQL expression, payload getter). ``is_calls``: the calls
    table (metadata values and texts are matched too, and its call ids are what cascades)."""

    table: str
    time_column: str = "time"
    call_refs: tuple[tuple[str, Getter], ...] = ()
    identifiers: dict[str, tuple[str, Getter]] = field(default_factory=dict)
    is_calls: bool = False


CALLS = TableRule(
    "calls",
    time_column="started_at",
    call_refs=(("call_id", _attr("call_id")),),
    identifiers={
        "user_id": ("user_id", _attr("user_id")),
        "session_id": ("session_id", _attr("session_id")),
        "call_id": ("call_id", _attr("call_id")),
    },
    is_calls=True,
)
RULES: tuple[TableRule, ...] = (
    CALLS,
    TableRule(
        "evaluation_scores",
        call_refs=(("call_id", _attr("call_id")), ("compared_call_id", _attr("compared_call_id"))),
    ),
    TableRule(
        "feedback",
        call_refs=(("call_id", _attr("call_id")),),
        identifiers={
            "user_id": (_json("user_id"), _attr("user_id")),
            "session_id": (_json("session_id"), _attr("session_id")),
        },
    ),
    TableRule(
        "cost_records",
        call_refs=(("call_id", _attr("call_id")),),
        identifiers={"user_id": (_json("user_id"), _attr("user_id"))},
    ),
    TableRule("review_items", call_refs=(("call_id", _attr("call_id")),)),
    TableRule("dataset_examples", call_refs=((_json("source_call_id"), _attr("source_call_id")),)),
)
"""Every table that can hold a subject's data (the rest hold configuration, aggregates or ids only:
docs/adr/0043 lists them)."""
_BY_TABLE = {rule.table: rule for rule in RULES}


def rule_for(table: str) -> TableRule | None:
    """The rule of ``table``, or None for a table that holds nothing about subjects."""
    return _BY_TABLE.get(table)
