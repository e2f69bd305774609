"""Evaluation scores as the feedback service reads them: one flat record per scored judgment.

The warehouse stores ``llmops.evaluation.scored.v2`` passes (docs/adr/0025): a call (and the call it was compared
with), and a list of items. Queue sources and exports want one judgment at a time, so each scored item becomes
one record carrying its pass's ``call_id``, ``compared_call_id`` and ``app``, with ``evaluation_id`` set to the
item's ``score_id``. Items that hold no score (``malformed``, ``error``, ``timeout``) are left out.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

__all__ = ["scored_items"]

_PASS_FIELDS = ("call_id", "compared_call_id", "app", "run_id", "example_id")


def scored_items(rows: Iterable[Mapping[str, Any]]) -> Iterator[dict[str, Any]]:
    """Every scored judgment of the warehouse rows ``rows`` (``data`` = a v2 pass), in order."""
    for row in rows:
        data = row.get("data") or {}
        shared = {name: data.get(name) for name in _PASS_FIELDS}
        for item in data.get("scores") or ():
            if item.get("outcome", "scored") == "scored" and item.get("score") is not None:
                yield {**shared, **item, "evaluation_id": item.get("score_id")}
