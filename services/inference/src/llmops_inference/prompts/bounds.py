"""The bounds a prompt template renders within, and the checks that enforce them before anything is allocated.

:func:`weight` estimates how many characters a value's text has (counted no further than just past the bound);
the checks below compare what an operation *would* build (from its inputs and arguments) with
:data:`MAX_VALUE_CHARS` and raise :class:`~jinja2.exceptions.SecurityError` naming the limit. Loops count
their iterations against :data:`MAX_LOOP_ITERATIONS` per render (:func:`loop_budget`).
"""

from __future__ import annotations

import contextlib
import contextvars
import re
from collections.abc import Iterable, Iterator, Mapping, Sized
from typing import Any

from jinja2.exceptions import SecurityError
from jinja2.runtime import Undefined
from jinja2.utils import Namespace

__all__ = [
    "COUNTED",
    "MAX_INT_BITS",
    "MAX_LOOP_ITERATIONS",
    "MAX_REPEAT",
    "MAX_VALUE_CHARS",
    "charge_step",
    "check_percent",
    "check_power",
    "check_product",
    "check_str_method",
    "counted",
    "joined_size",
    "limit",
    "loop_budget",
    "replaced_size",
    "weighed",
    "weight",
]

MAX_VALUE_CHARS = 1_000_000
"""The most characters any one value a template builds may have (the longest message a call may hold)."""
MAX_REPEAT = 100_000
"""Longest string or list ``*`` may build, and the largest base ``**`` may take."""
MAX_INT_BITS = 4096
"""Largest integer ``*`` may build (its text is about a third as many digits)."""
MAX_LOOP_ITERATIONS = 100_000
"""Iterations of all ``{% for %}`` loops and macro calls of one render together."""
COUNTED = "_llmops_counted"
"""The filter every ``for`` loop's iterable is passed through (added at parse time)."""

_LOOPS: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar("llmops_template_loops", default=None)
_PERCENT = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?[a-zA-Z%]")


def weight(value: Any, budget: int = MAX_VALUE_CHARS) -> int:
    """About how many characters ``str(value)`` has, counted no further than just past ``budget``."""
    total, stack = 0, [value]
    while stack and total <= budget:
        item = stack.pop()
        if isinstance(item, str | bytes):
            total += len(item)
        elif isinstance(item, Undefined):  # weighing must not raise what using it would
            total += 24
        elif isinstance(item, int):
            total += item.bit_length() // 3 + 1
        elif isinstance(item, Namespace):
            stack.append(object.__getattribute__(item, "_Namespace__attrs"))
        elif isinstance(item, Sized) and isinstance(item, Iterable) and not isinstance(item, Iterator):
            total += (4 if isinstance(item, Mapping) else 2) * len(item) + 2
            if total <= budget:  # a collection longer than the budget is over it without looking inside
                stack.extend(item)
                if isinstance(item, Mapping):
                    stack.extend(item.values())
        else:  # a float, None, a generator (its text is short; its items are weighed when they are used)
            total += 24
    return total


def limit(size: int, what: str) -> None:
    if size > MAX_VALUE_CHARS:
        raise SecurityError(f"{what} would be over {MAX_VALUE_CHARS:,} characters, the most a template may build")


def weighed(value: Any, what: str) -> Any:
    limit(weight(value), what)
    return value


@contextlib.contextmanager
def loop_budget(iterations: int = MAX_LOOP_ITERATIONS) -> Iterator[None]:
    """Count the ``for`` loops rendered inside against ``iterations``."""
    token = _LOOPS.set([iterations])
    try:
        yield
    finally:
        _LOOPS.reset(token)


def counted(iterable: Iterable[Any]) -> Iterator[Any]:
    for item in iterable:
        charge_step()
        yield item


def charge_step() -> None:
    """One loop iteration or macro call against the render's budget: a template that recurses through macros
    and prints nothing is as bounded as one that loops."""
    budget = _LOOPS.get()
    if budget is not None:
        budget[0] -= 1
        if budget[0] < 0:
            raise SecurityError(f"the template's loops and macro calls ran over {MAX_LOOP_ITERATIONS:,} iterations")


def check_percent(fmt: str, args: Any) -> None:
    """Refuse ``fmt % args`` when its widths and values would make it too long (``*`` widths are refused)."""
    size = len(fmt)
    for match in _PERCENT.finditer(fmt):
        width, precision = match.groups()
        if "*" in (width, precision):
            raise SecurityError("'*' widths are not allowed in % formatting")
        size += max(int(width or 0), int(precision or 0))
    limit(size + weight(args), "the formatted string")


def _width(args: tuple[Any, ...], kwargs: Mapping[str, Any], name: str, default: int = 0) -> int:
    value = args[0] if args else kwargs.get(name, default)
    return int(value) if isinstance(value, int) else default


def check_str_method(text: str, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    """Refuse a string method whose result would be too long; returns the arguments to call it with."""
    if name in {"center", "ljust", "rjust", "zfill"}:
        limit(max(len(text), _width(args, kwargs, "width")), f"str.{name}()")
    elif name == "expandtabs":
        limit(len(text) + text.count("\t") * _width(args, kwargs, "tabsize", 8), "str.expandtabs()")
    elif name == "join" and args:
        items = list(args[0])
        limit(joined_size(items, text), "str.join()")
        return (items, *args[1:])
    elif name == "replace" and len(args) >= 2:
        limit(replaced_size(text, *args[:3]), "str.replace()")
    elif name in {"translate", "maketrans"}:
        raise SecurityError(f"str.{name}() is not allowed in templates")
    return args


def joined_size(items: list[Any], separator: Any) -> int:
    return weight(items) + weight(separator) * max(0, len(items) - 1)


def replaced_size(text: Any, old: Any, new: Any, count: Any = None) -> int:
    text, old, new = str(text), str(old), str(new)
    found = text.count(old) if old else len(text) + 1
    if isinstance(count, int) and count >= 0:
        found = min(found, count)
    return len(text) + found * max(0, len(new) - len(old))


def check_power(base: Any, exponent: Any) -> None:
    """``base ** exponent`` of numbers: a base up to :data:`MAX_REPEAT` and an exponent up to 64."""
    numbers = isinstance(base, int | float) and isinstance(exponent, int | float)
    if numbers and (abs(base) > MAX_REPEAT or abs(exponent) > 64):
        raise SecurityError(f"'**' is limited to results below {MAX_REPEAT}**{MAX_REPEAT}")


def check_product(left: Any, right: Any) -> None:
    if isinstance(left, int) and isinstance(right, int):
        if left.bit_length() + right.bit_length() > MAX_INT_BITS:
            raise SecurityError(f"'*' may not build numbers of more than {MAX_INT_BITS} bits")
        return
    for sequence, count in ((left, right), (right, left)):
        if isinstance(sequence, str | list | tuple) and isinstance(count, int):
            if len(sequence) * count > MAX_REPEAT:
                raise SecurityError(f"'*' may not build strings or lists longer than {MAX_REPEAT:,}")
            limit(weight(sequence) * count, "'*'")
