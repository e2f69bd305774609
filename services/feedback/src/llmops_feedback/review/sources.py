"""Where a queue's items come from: one function per ``source``, each reading history from the warehouse.

A source takes the tenant, the queue's ``params`` and the most items wanted, and returns the candidates (a
call id and why it was chosen), newest first. Sources are registered in :data:`SOURCES` by name: the drift
window is the extension point left for when drift reports exist (its entry refuses with a clear 422 until
then); a new source is one function and one entry, and the schema needs no change (``source`` is a name).

Params every source but ``dataset`` reads: ``start``/``end`` (ISO 8601, default the last 7 days) and, where the
table has it, ``app`` (a dataset version is found whatever its age). Bad params raise :class:`SourceError` (a
422 naming the param).
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


_EPOCH = "1970-01-01T00:00:00+00:00"


def _dataset_ref(params: Mapping[str, JsonValue]) -> tuple[str, int | None]:
    """``dataset`` as ``name`` or ``name@version`` (or ``version`` apart); None: the latest version."""
    name, _, at = (_text(params, "dataset", required=True) or "").partition("@")
    version = at or _text(params, "version")
    if not name or (version is not None and not version.isdigit()):
        raise SourceError("dataset", "params.dataset must be a dataset name or name@version (a positive number)")
    return name, int(version) if version else None


def _explicit(call_ids: JsonValue, reason: str, max_items: int) -> Picked:
    if not isinstance(call_ids, list) or not call_ids or not all(isinstance(c, str) and c for c in call_ids):
        raise SourceError("call_ids", "params.call_ids must be a non-empty list of call ids")
    if len(call_ids) > max_items:
        raise SourceError("call_ids", f"params.call_ids has {len(call_ids)} calls; at most {max_items}")
    return Picked(_first_per_call([Candidate(str(c), reason) for c in call_ids], max_items))


def _example_call_id(data: Mapping[str, Any]) -> str | None:
    """The example's source call: ``source_call_id``, or the ``call:<id>`` tag of an example stored before it."""
    if data.get("source_call_id"):
        return str(data["source_call_id"])
    return next((t[5:] for t in data.get("tags") or [] if isinstance(t, str) and t.startswith("call:")), None)


async def _manifest(source: SourceInput, name: str, version: int | None) -> Mapping[str, Any]:
    """The row of the version's manifest (its first: the first manifest of a version wins); 422 when none."""
    read = await source.history.read(source.tenant, "dataset_versions", {"start": _EPOCH}, source.max_rows)
    mine = [r for r in read.rows if (r.get("data") or {}).get("name") == name and not r.get("deleted")]
    if version is None and mine:
        version = max(int(r["data"]["version"]) for r in mine)
    found = [r for r in mine if r["data"]["version"] == version]
    if not found:
        which = f"version {version} of " if version is not None else ""
        raise SourceError("dataset", f"the warehouse has no {which}dataset {name!r}")
    return found[-1]  # rows come newest first


async def dataset(source: SourceInput) -> Picked:
    """The calls a dataset names: params ``dataset`` (``name`` or ``name@version``, default its latest), and
    either ``call_ids`` (a list, taken as given) or none, then the source calls of the version's examples
    (``source_call_id``, set on datasets built from stored calls), read through the warehouse in dataset order."""
    name, version = _dataset_ref(source.params)
    if "call_ids" in source.params:
        reason = f"dataset {name}" + (f"@{version}" if version else "")
        return _explicit(source.params["call_ids"], reason, source.max_items)
    row = await _manifest(source, name, version)
    manifest = row["data"]
    # The examples are published just before their manifest: read back from its time, newest first.
    end = (datetime.fromisoformat(row["time"]) + timedelta(milliseconds=1)).isoformat()
    read = await source.history.read(source.tenant, "dataset_examples", {"start": _EPOCH, "end": end}, source.max_rows)
    examples = sorted(
        (data for r in read.rows if (data := r.get("data") or {}).get("dataset") == name
         and data.get("version") == manifest["version"] and data.get("digest") == manifest["digest"]),
        key=lambda data: int(data.get("position", 0)),
    )  # fmt: skip
    reason = f"dataset {name}@{manifest['version']}"
    found = [Candidate(call_id, reason) for data in examples if (call_id := _example_call_id(data))]
    if not found and not read.truncated:
        raise SourceError("dataset", f"no example of {reason} names a stored call (source_call_id)")
    return Picked(_first_per_call(found, source.max_items), read.truncated and len(examples) < manifest["examples"])


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
