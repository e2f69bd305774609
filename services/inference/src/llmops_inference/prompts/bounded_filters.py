"""jinja2's filters with their sizes bounded: arguments and result weighed, amplifiers checked before they run.

Each filter is wrapped by :func:`checked_filters`; those that can build much more than they are given
(``center``, ``format``, ``indent``, ``wordwrap``, ``replace``, ``join``, ``sum``, ``batch``, ``slice``,
``tojson``) get a check of what they would build first (:mod:`llmops_inference.prompts.bounds`). ``urlize`` is
dropped (it inserts its arguments once per link), and the loop counter is added as a filter every ``for`` loop's
iterable passes through.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from jinja2.exceptions import SecurityError
from jinja2.utils import pass_eval_context

from llmops_inference.prompts.bounds import (
    COUNTED,
    MAX_REPEAT,
    check_percent,
    counted,
    joined_size,
    limit,
    replaced_size,
    weighed,
    weight,
)

__all__ = ["checked_filters"]


def _guarded(original: Callable[..., Any], check: Callable[..., None] | None = None) -> Callable[..., Any]:
    """``original`` (a filter) with its arguments weighed, ``check`` run first, and its result weighed."""
    passes = getattr(original, "jinja_pass_arg", None)

    def guarded(*args: Any, **kwargs: Any) -> Any:
        own = args[1:] if passes is not None else args
        for value in (*own, *kwargs.values()):
            limit(weight(value), "a filter's argument")
        if check is not None:
            check(*own, **kwargs)
        return weighed(original(*args, **kwargs), "a filter's result")

    if passes is not None:
        guarded.jinja_pass_arg = passes  # type: ignore[attr-defined]
    return guarded


def _check_center(value: Any, width: int = 80) -> None:
    limit(max(weight(value), int(width)), "center")


def _check_indent(s: Any, width: int | str = 4, first: bool = False, blank: bool = False) -> None:
    text = str(s)
    limit(len(text) + (text.count("\n") + 1) * (len(width) if isinstance(width, str) else int(width)), "indent")


def _check_wordwrap(
    s: Any, width: int = 79, break_long_words: bool = True, wrapstring: str | None = None, **_: Any
) -> None:
    text = str(s)
    breaks = len(text) // max(1, int(width)) + text.count("\n") + 1
    limit(len(text) + breaks * len(wrapstring or "\n"), "wordwrap")


def _check_count(value: Any, *args: Any, **kwargs: Any) -> None:
    """``batch(linecount)`` and ``slice(slices)``: how many parts (and fill items) they would make."""
    count = args[0] if args else kwargs.get("linecount", kwargs.get("slices", 0))
    if int(count) > MAX_REPEAT:
        raise SecurityError(f"batch and slice take at most {MAX_REPEAT:,} parts")


def _check_tojson(value: Any, indent: int | None = None) -> None:
    if indent is not None and int(indent) > 16:
        raise SecurityError("tojson indents by at most 16")


def checked_filters(filters: dict[str, Callable[..., Any]]) -> dict[str, Callable[..., Any]]:
    checks: dict[str, Callable[..., None]] = {
        "center": _check_center,
        "format": lambda value, *args, **kwargs: check_percent(str(value), kwargs or args),
        "indent": _check_indent,
        "wordwrap": _check_wordwrap,
        "replace": lambda s, old, new, count=None: limit(replaced_size(s, old, new, count), "replace"),
        "batch": _check_count,
        "slice": _check_count,
        "tojson": _check_tojson,
    }
    checked = {name: _guarded(f, checks.get(name)) for name, f in filters.items() if name != "urlize"}
    checked["join"] = _join_filter(filters["join"])
    checked["sum"] = _sum_filter(filters["sum"])
    checked[COUNTED] = counted
    return checked


def _join_filter(original: Callable[..., Any]) -> Callable[..., Any]:
    @pass_eval_context
    def join(eval_ctx: Any, value: Iterable[Any], d: str = "", attribute: Any = None) -> Any:
        items = list(value)  # iterated once here, so it is measured before anything is joined
        limit(joined_size(items, d), "join")
        return original(eval_ctx, items, d, attribute)

    return join


def _sum_filter(original: Callable[..., Any]) -> Callable[..., Any]:
    def total(environment: Any, iterable: Iterable[Any], attribute: Any = None, start: Any = 0) -> Any:
        items = list(iterable)
        limit(weight(items) + weight(start), "sum")
        return original(environment, items, attribute, start)

    total.jinja_pass_arg = original.jinja_pass_arg  # type: ignore[attr-defined]
    return total
