"""Where a queue's items come from: one function per ``source``, each reading history from the warehouse.

A source takes the tenant, the queue's ``params`` and the most items wanted, and returns the candidates (a
call id and why it was chosen), newest first. Sources are registered in :data:`SOURCES` by name: the drift
window is the extension point left for when drift reports exist (its entry refuses with a clear 422 until
then); a new source is one function and one entry, and the schema needs no change (``source`` is a name).

Params every source reads: ``start``/``end`` (ISO 8601, default the last 7 days) and, where the table has it,
``app``. Bad params raise :class:`SourceError` (a 422 naming the param).
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from llmops_kit.warehouse import HistoryReader
from pydantic import JsonValue

from llmops_feedback.scores import scored_items

__all__ = ["SOURCES", "Candidate", "Picked", "SourceError", "SourceInput"]


class SourceError(ValueError):
    """The queue's params do not fit its source: ``param`` names the one at fault."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(message)
        self.param = param


@dataclass(frozen=True, slots=True)
class Candidate:
    """A call a source chose, and why."""

    call_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class Picked:
    """What a source found: the candidates, and whether history had more rows than were scanned."""

    candidates: list[Candidate]
    truncated: bool = False


@dataclass(frozen=True, slots=True)
class SourceInput:
    """What every source gets."""

    tenant: str
    params: Mapping[str, JsonValue]
    max_items: int
    max_rows: int
    """The most history rows one read may scan (the warehouse read's bound)."""
    now: datetime
    history: HistoryReader


Source = Callable[[SourceInput], Awaitable[Picked]]


def _text(params: Mapping[str, JsonValue], name: str, *, required: bool = False) -> str | None:
    value = params.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value or len(value) > 256:
        raise SourceError(name, f"params.{name} must be a non-empty string of at most 256 characters")
    return value


def _number(params: Mapping[str, JsonValue], name: str, default: float | None = None) -> float:
    value = params.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SourceError(name, f"params.{name} must be a number")
    return float(value)


def _window(source: SourceInput) -> dict[str, str]:
    """``start``/``end`` as the warehouse's filters, default the last 7 days; plus ``app`` when given."""
    query: dict[str, str] = {}
    for name in ("start", "end"):
        text = _text(source.params, name)
        if text is not None:
            try:
                if datetime.fromisoformat(text).tzinfo is None:
                    raise ValueError(text)
            except ValueError:
                raise SourceError(name, f"params.{name} must be an ISO 8601 time with a time zone") from None
            query[name] = text
    query.setdefault("start", (source.now - timedelta(days=7)).isoformat())
    app = _text(source.params, "app")
    if app is not None:
        query["app"] = app
    return query


def _first_per_call(found: list[Candidate], limit: int) -> list[Candidate]:
    seen: set[str] = set()
    kept = []
    for candidate in found:
        if candidate.call_id not in seen:
            seen.add(candidate.call_id)
            kept.append(candidate)
    return kept[:limit]


async def low_score(source: SourceInput) -> Picked:
    """Calls an evaluator scored below ``below`` (params ``evaluator``, optional ``metric``), newest score first."""
    evaluator = _text(source.params, "evaluator", required=True)
    metric = _text(source.params, "metric")
    below = _number(source.params, "below")
    read = await source.history.read(source.tenant, "evaluation_scores", _window(source), source.max_rows)
    found = []
    for data in scored_items(read.rows):
        ref = data.get("evaluator") or {}
        score = data.get("score")
        wanted = ref.get("name") == evaluator and (metric is None or data.get("metric") == metric)
        if wanted and isinstance(score, int | float) and score < below and data.get("call_id"):
            found.append(Candidate(data["call_id"], f"{evaluator} {data.get('metric') or 'score'} {score:g}"))
    return Picked(_first_per_call(found, source.max_items), read.truncated)


def _negative(data: Mapping[str, Any], max_rating: float) -> str | None:
    kind, value = data.get("kind"), data.get("value")
    if kind == "thumbs" and value == 0:
        return "thumbs down"
    if kind == "rating" and isinstance(value, int | float) and value <= max_rating:
        return f"rating {value:g}"
    return None


async def negative_feedback(source: SourceInput) -> Picked:
    """Calls with a thumbs down or a rating of at most ``max_rating`` (default 2); the latest per feedback id."""
    max_rating = _number(source.params, "max_rating", 2)
    window = {k: v for k, v in _window(source).items() if k != "app"}  # feedback has no app column
    read = await source.history.read(source.tenant, "feedback", window, source.max_rows)
    latest: dict[str, Mapping[str, Any]] = {}
    for row in read.rows:  # newest first: the first row per feedback id is its latest version
        data = row.get("data") or {}
        latest.setdefault(str(data.get("feedback_id")), data)
    found = [
        Candidate(data["call_id"], why)
        for data in latest.values()
        if data.get("call_id") and (why := _negative(data, max_rating)) is not None
    ]
    return Picked(_first_per_call(found, source.max_items), read.truncated)


def _draw(seed: str, call_id: str) -> str:
    return hashlib.sha256(f"{seed}\0{call_id}".encode()).hexdigest()


async def sample(source: SourceInput) -> Picked:
    """``size`` calls drawn uniformly (by a seeded hash of the call id, so the same params draw the same calls)."""
    size = int(_number(source.params, "size", source.max_items))
    if not 1 <= size <= source.max_items:
        raise SourceError("size", f"params.size must be from 1 to {source.max_items}")
    seed = _text(source.params, "seed") or "llmops"
    query = {**_window(source), "origin": "application"}
    for name in ("model", "prompt_name"):
        if (value := _text(source.params, name)) is not None:
            query[name] = value
    read = await source.history.read(source.tenant, "calls", query, source.max_rows)
    call_ids = {str((row.get("data") or {}).get("call_id")) for row in read.rows} - {"None"}
    drawn = sorted(call_ids, key=lambda call_id: _draw(seed, call_id))[:size]
    return Picked([Candidate(call_id, "random sample") for call_id in drawn], read.truncated)


async def dataset(source: SourceInput) -> Picked:
    """The calls a dataset names: params ``dataset`` (its name), optional ``version`` and ``call_ids`` (a list)."""
    name = _text(source.params, "dataset", required=True)
    version = _text(source.params, "version")
    call_ids = source.params.get("call_ids")
    if not isinstance(call_ids, list) or not call_ids or not all(isinstance(c, str) and c for c in call_ids):
        raise SourceError("call_ids", "params.call_ids must be a non-empty list of call ids")
    if len(call_ids) > source.max_items:
        raise SourceError("call_ids", f"params.call_ids has {len(call_ids)} calls; at most {source.max_items}")
    reason = f"dataset {name}" + (f"@{version}" if version else "")
    return Picked(_first_per_call([Candidate(str(c), reason) for c in call_ids], source.max_items))


async def drift_window(source: SourceInput) -> Picked:
    """The extension point for drift: the calls of a drift report's window, once drift reports exist."""
    raise SourceError("source", "the drift source needs drift reports, which the platform does not produce yet")


SOURCES: dict[str, Source] = {
    "low_score": low_score,
    "negative_feedback": negative_feedback,
    "sample": sample,
    "dataset": dataset,
    "drift": drift_window,
}
"""Every source by the name a queue's ``source`` gives."""
