"""The Jinja2 sandbox prompt templates render in, with every size bounded while rendering, not afterwards.

jinja2's :class:`~jinja2.sandbox.ImmutableSandboxedEnvironment` keeps a template away from Python internals and
from mutating its inputs, but bounds no size: ``{{ "x"|center(10**9) }}``, ``{{ "%999999999s"|format(1) }}``
or ``{{ range(99999)|join("x" * 99999) }}`` each allocate gigabytes in one call, before any output is seen.
Here every operation that can make a value much larger than its inputs is checked *before* it runs, against
:data:`MAX_VALUE_CHARS` (about how many characters the value's text would have, see :func:`weight`):

* the operators ``*``, ``**``, ``%`` and ``+`` (jinja2's ``intercepted_binops``), and ``~``;
* the filters that amplify (``center``, ``format``, ``indent``, ``wordwrap``, ``join``, ``replace``, ``sum``,
  ``batch``, ``slice``, ``tojson``); every filter's arguments and result are weighed too;
* string methods (``center``, ``ljust``, ``rjust``, ``zfill``, ``expandtabs``, ``join``, ``replace``;
  ``format``/``format_map`` through a formatter that weighs each field's width and precision; ``translate``
  refused), and every call's arguments and result;
* every expression before it is output (``finalize``) and every block's buffer (``concat``);
* loops: all ``{% for %}`` of one render share :data:`MAX_LOOP_ITERATIONS` iterations, so a loop that prints
  nothing cannot spin for minutes either. ``lipsum`` and ``urlize`` are gone (no use in a prompt).

A refusal is a :class:`~jinja2.exceptions.SecurityError` naming the limit. Call :func:`loop_budget` around a
render (the ``for`` loops of a render without one are not counted).
"""

from __future__ import annotations

import contextlib
import contextvars
import re
import types
from collections.abc import Callable, Iterable, Iterator, Mapping, Sized
from string import Formatter
from typing import Any

from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context, Undefined
from jinja2.sandbox import ImmutableSandboxedEnvironment, SandboxedEscapeFormatter, SandboxedFormatter
from jinja2.utils import Namespace, pass_eval_context
from markupsafe import Markup

__all__ = ["MAX_LOOP_ITERATIONS", "MAX_REPEAT", "MAX_VALUE_CHARS", "BoundedEnvironment", "loop_budget", "weight"]

MAX_VALUE_CHARS = 1_000_000
"""The most characters any one value a template builds may have (the longest message a call may hold)."""
MAX_REPEAT = 100_000
"""Longest string or list ``*`` may build, and the largest base ``**`` may take."""
MAX_INT_BITS = 4096
"""Largest integer ``*`` may build (its text is about a third as many digits)."""
MAX_LOOP_ITERATIONS = 100_000
"""Iterations of all ``{% for %}`` loops of one render together."""
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


def _limit(size: int, what: str) -> None:
    if size > MAX_VALUE_CHARS:
        raise SecurityError(f"{what} would be over {MAX_VALUE_CHARS:,} characters, the most a template may build")


def _weighed(value: Any, what: str) -> Any:
    _limit(weight(value), what)
    return value


@contextlib.contextmanager
def loop_budget(iterations: int = MAX_LOOP_ITERATIONS) -> Iterator[None]:
    """Count the ``for`` loops rendered inside against ``iterations``."""
    token = _LOOPS.set([iterations])
    try:
        yield
    finally:
        _LOOPS.reset(token)


def _counted(iterable: Iterable[Any]) -> Iterator[Any]:
    budget = _LOOPS.get()
    for item in iterable:
        if budget is not None:
            budget[0] -= 1
            if budget[0] < 0:
                raise SecurityError(f"the template's loops ran over {MAX_LOOP_ITERATIONS:,} iterations")
        yield item


def _percent(fmt: str, args: Any) -> None:
    """Refuse ``fmt % args`` when its widths and values would make it too long (``*`` widths are refused)."""
    size = len(fmt)
    for match in _PERCENT.finditer(fmt):
        width, precision = match.groups()
        if "*" in (width, precision):
            raise SecurityError("'*' widths are not allowed in % formatting")
        size += max(int(width or 0), int(precision or 0))
    _limit(size + weight(args), "the formatted string")


class _SizedFields(Formatter):
    """A formatter that weighs each field's width and precision before formatting it (``str.format``)."""

    size = 0

    def format_field(self, value: Any, format_spec: str) -> Any:
        self.size += max((int(n) for n in re.findall(r"\d+", format_spec)), default=0) + weight(value)
        _limit(self.size, "the formatted string")
        return super().format_field(value, format_spec)


class _SizedFormatter(_SizedFields, SandboxedFormatter):
    pass


class _SizedEscapeFormatter(_SizedFields, SandboxedEscapeFormatter):
    pass


def _width(args: tuple[Any, ...], kwargs: Mapping[str, Any], name: str, default: int = 0) -> int:
    value = args[0] if args else kwargs.get(name, default)
    return int(value) if isinstance(value, int) else default


def _check_str_method(text: str, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    """Refuse a string method whose result would be too long; returns the arguments to call it with."""
    if name in {"center", "ljust", "rjust", "zfill"}:
        _limit(max(len(text), _width(args, kwargs, "width")), f"str.{name}()")
    elif name == "expandtabs":
        _limit(len(text) + text.count("\t") * _width(args, kwargs, "tabsize", 8), "str.expandtabs()")
    elif name == "join" and args:
        items = list(args[0])
        _limit(_joined(items, text), "str.join()")
        return (items, *args[1:])
    elif name == "replace" and len(args) >= 2:
        _limit(_replaced(text, *args[:3]), "str.replace()")
    elif name in {"translate", "maketrans"}:
        raise SecurityError(f"str.{name}() is not allowed in templates")
    return args


def _joined(items: list[Any], separator: Any) -> int:
    return weight(items) + weight(separator) * max(0, len(items) - 1)


def _replaced(text: Any, old: Any, new: Any, count: Any = None) -> int:
    text, old, new = str(text), str(old), str(new)
    found = text.count(old) if old else len(text) + 1
    if isinstance(count, int) and count >= 0:
        found = min(found, count)
    return len(text) + found * max(0, len(new) - len(old))


def _guarded(original: Callable[..., Any], check: Callable[..., None] | None = None) -> Callable[..., Any]:
    """``original`` (a filter) with its arguments weighed, ``check`` run first, and its result weighed."""
    passes = getattr(original, "jinja_pass_arg", None)

    def guarded(*args: Any, **kwargs: Any) -> Any:
        own = args[1:] if passes is not None else args
        for value in (*own, *kwargs.values()):
            _limit(weight(value), "a filter's argument")
        if check is not None:
            check(*own, **kwargs)
        return _weighed(original(*args, **kwargs), "a filter's result")

    if passes is not None:
        guarded.jinja_pass_arg = passes  # type: ignore[attr-defined]
    return guarded


def _check_center(value: Any, width: int = 80) -> None:
    _limit(max(weight(value), int(width)), "center")


def _check_indent(s: Any, width: int | str = 4, first: bool = False, blank: bool = False) -> None:
    text = str(s)
    _limit(len(text) + (text.count("\n") + 1) * (len(width) if isinstance(width, str) else int(width)), "indent")


def _check_wordwrap(
    s: Any, width: int = 79, break_long_words: bool = True, wrapstring: str | None = None, **_: Any
) -> None:
    text = str(s)
    breaks = len(text) // max(1, int(width)) + text.count("\n") + 1
    _limit(len(text) + breaks * len(wrapstring or "\n"), "wordwrap")


def _check_count(value: Any, *args: Any, **kwargs: Any) -> None:
    """``batch(linecount)`` and ``slice(slices)``: how many parts (and fill items) they would make."""
    count = args[0] if args else kwargs.get("linecount", kwargs.get("slices", 0))
    if int(count) > MAX_REPEAT:
        raise SecurityError(f"batch and slice take at most {MAX_REPEAT:,} parts")


def _check_tojson(value: Any, indent: int | None = None) -> None:
    if indent is not None and int(indent) > 16:
        raise SecurityError("tojson indents by at most 16")


def _checked_filters(filters: dict[str, Callable[..., Any]]) -> dict[str, Callable[..., Any]]:
    checks: dict[str, Callable[..., None]] = {
        "center": _check_center,
        "format": lambda value, *args, **kwargs: _percent(str(value), kwargs or args),
        "indent": _check_indent,
        "wordwrap": _check_wordwrap,
        "replace": lambda s, old, new, count=None: _limit(_replaced(s, old, new, count), "replace"),
        "batch": _check_count,
        "slice": _check_count,
        "tojson": _check_tojson,
    }
    checked = {name: _guarded(f, checks.get(name)) for name, f in filters.items() if name != "urlize"}
    checked["join"] = _join_filter(filters["join"])
    checked["sum"] = _sum_filter(filters["sum"])
    checked[COUNTED] = _counted
    return checked


def _join_filter(original: Callable[..., Any]) -> Callable[..., Any]:
    @pass_eval_context
    def join(eval_ctx: Any, value: Iterable[Any], d: str = "", attribute: Any = None) -> Any:
        items = list(value)  # iterated once here, so it is measured before anything is joined
        _limit(_joined(items, d), "join")
        return original(eval_ctx, items, d, attribute)

    return join


def _sum_filter(original: Callable[..., Any]) -> Callable[..., Any]:
    def total(environment: Any, iterable: Iterable[Any], attribute: Any = None, start: Any = 0) -> Any:
        items = list(iterable)
        _limit(weight(items) + weight(start), "sum")
        return original(environment, items, attribute, start)

    total.jinja_pass_arg = original.jinja_pass_arg  # type: ignore[attr-defined]
    return total


class _Buffer(list[str]):
    """A block's output (a macro's, a ``{% set %}`` block's, a ``caller()``'s), refused as it grows too long."""

    size = 0

    def append(self, piece: str) -> None:
        self.size += len(piece)
        _limit(self.size, "a block's output")
        super().append(piece)

    def extend(self, pieces: Iterable[str]) -> None:
        for piece in pieces:
            self.append(piece)


class _BoundedCodeGenerator(CodeGenerator):
    """Compiles ``~`` to the environment's size-checked join (jinja2's own ``str_join`` checks nothing) and a
    block's buffer to a :class:`_Buffer`."""

    def buffer(self, frame: Frame) -> None:
        frame.buffer = self.temporary_identifier()
        self.writeline(f"{frame.buffer} = environment.new_buffer()")

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.join_values((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


class BoundedEnvironment(ImmutableSandboxedEnvironment):
    """The sandbox with every size bounded (see the module's documentation)."""

    code_generator_class = _BoundedCodeGenerator
    intercepted_binops = frozenset({"*", "**", "%", "+"})

    def __init__(self, **options: Any) -> None:
        super().__init__(finalize=lambda value: _weighed(value, "an output expression"), **options)
        self.filters = _checked_filters(dict(self.filters))
        self.globals.pop("lipsum", None)

    @staticmethod
    def new_buffer() -> list[str]:
        """Where a block's output collects (macros, ``{% set %}`` blocks, ``caller()``): bounded as it grows."""
        return _Buffer()

    @staticmethod
    def join_values(values: tuple[Any, ...]) -> str:
        """``a ~ b``: the values' texts joined only when small enough."""
        _limit(sum(weight(v) for v in values), "'~'")
        return "".join(map(str, values))

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        """The template with each ``for`` loop's iterable passed through the loop counter."""
        tree = super()._parse(source, name, filename)
        for loop in list(tree.find_all(nodes.For)):
            loop.iter = nodes.Filter(loop.iter, COUNTED, [], [], None, None, lineno=loop.lineno)
            loop.iter.set_environment(self)
        return tree

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and _too_big_power(left, right):
            raise SecurityError(f"'**' is limited to results below {MAX_REPEAT}**{MAX_REPEAT}")
        if operator == "*":
            _check_product(left, right)
        elif operator == "+":
            _limit(weight(left) + weight(right), "'+'")
        elif operator == "%" and isinstance(left, str):
            _percent(left, right)
        return super().call_binop(context, operator, left, right)

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        owner = getattr(__obj, "__self__", None)
        if isinstance(__obj, types.BuiltinMethodType) and isinstance(owner, str):
            args = _check_str_method(owner, __obj.__name__, args, kwargs)
        for value in (*args, *kwargs.values()):
            _limit(weight(value), "an argument")
        return _weighed(super().call(__context, __obj, *args, **kwargs), "a call's result")

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        """``str.format``/``format_map`` through a formatter that weighs every field before formatting it."""
        if super().wrap_str_format(value) is None:
            return None
        text: str = value.__self__
        is_map = value.__name__ == "format_map"

        def format_checked(*args: Any, **kwargs: Any) -> str:
            if is_map:
                if kwargs or len(args) != 1:
                    raise TypeError("format_map() takes exactly one argument")
                mapping: Mapping[str, Any] = args[0]
                args, kwargs = (), dict(mapping)
            fields = _SizedEscapeFormatter(self, escape=text.escape) if isinstance(text, Markup) else None
            formatter = fields or _SizedFormatter(self)
            return type(text)(formatter.vformat(text, args, kwargs))

        return format_checked


def _too_big_power(base: Any, exponent: Any) -> bool:
    numbers = isinstance(base, int | float) and isinstance(exponent, int | float)
    return numbers and (abs(base) > MAX_REPEAT or abs(exponent) > 64)


def _check_product(left: Any, right: Any) -> None:
    if isinstance(left, int) and isinstance(right, int):
        if left.bit_length() + right.bit_length() > MAX_INT_BITS:
            raise SecurityError(f"'*' may not build numbers of more than {MAX_INT_BITS} bits")
        return
    for sequence, count in ((left, right), (right, left)):
        if isinstance(sequence, str | list | tuple) and isinstance(count, int):
            if len(sequence) * count > MAX_REPEAT:
                raise SecurityError(f"'*' may not build strings or lists longer than {MAX_REPEAT:,}")
            _limit(weight(sequence) * count, "'*'")
