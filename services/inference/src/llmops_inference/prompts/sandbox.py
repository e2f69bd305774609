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
* every expression before it is output (``finalize``) and every block's buffer as it grows (macros, ``caller()``);
* loops: all ``{% for %}`` of one render share :data:`MAX_LOOP_ITERATIONS` iterations, so a loop that prints
  nothing cannot spin for minutes either. ``lipsum`` and ``urlize`` are gone (no use in a prompt).

A refusal is a :class:`~jinja2.exceptions.SecurityError` naming the limit. Call :func:`loop_budget` around a
render (the ``for`` loops of a render without one are not counted). The bounds and checks live in
:mod:`llmops_inference.prompts.bounds`, the wrapped filters in :mod:`llmops_inference.prompts.bounded_filters`.
"""

from __future__ import annotations

import re
import types
from collections.abc import Callable, Iterable, Mapping
from string import Formatter
from typing import Any

from jinja2 import TemplateSyntaxError, nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.runtime import Context, Macro
from jinja2.sandbox import ImmutableSandboxedEnvironment, SandboxedEscapeFormatter, SandboxedFormatter
from markupsafe import Markup

from llmops_inference.prompts.bounded_filters import checked_filters
from llmops_inference.prompts.bounds import (
    COUNTED,
    MAX_LOOP_ITERATIONS,
    MAX_REPEAT,
    MAX_VALUE_CHARS,
    charge_step,
    check_percent,
    check_power,
    check_product,
    check_str_method,
    limit,
    loop_budget,
    weighed,
    weight,
)

__all__ = ["MAX_LOOP_ITERATIONS", "MAX_REPEAT", "MAX_VALUE_CHARS", "BoundedEnvironment", "loop_budget", "weight"]


class _SizedFields(Formatter):
    """A formatter that weighs each field's width and precision before formatting it (``str.format``)."""

    size = 0

    def format_field(self, value: Any, format_spec: str) -> Any:
        self.size += max((int(n) for n in re.findall(r"\d+", format_spec)), default=0) + weight(value)
        limit(self.size, "the formatted string")
        return super().format_field(value, format_spec)


class _SizedFormatter(_SizedFields, SandboxedFormatter):
    pass


class _SizedEscapeFormatter(_SizedFields, SandboxedEscapeFormatter):
    pass


class _Buffer(list[str]):
    """A block's output (a macro's, a ``{% set %}`` block's, a ``caller()``'s), refused as it grows too long."""

    size = 0

    def append(self, piece: str) -> None:
        self.size += len(piece)
        limit(self.size, "a block's output")
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
        super().__init__(finalize=lambda value: weighed(value, "an output expression"), **options)
        self.filters = checked_filters(dict(self.filters))
        self.globals.pop("lipsum", None)

    @staticmethod
    def new_buffer() -> list[str]:
        """Where a block's output collects (macros, ``{% set %}`` blocks, ``caller()``): bounded as it grows."""
        return _Buffer()

    @staticmethod
    def join_values(values: tuple[Any, ...]) -> str:
        """``a ~ b``: the values' texts joined only when small enough."""
        limit(sum(weight(v) for v in values), "'~'")
        return "".join(map(str, values))

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        """The template with each ``for`` loop's iterable passed through the loop counter.

        A ``recursive`` loop is refused: ``loop(...)`` re-enters the body with an iterable that bypasses the
        counter, so nested calls could run without bound while printing nothing.
        """
        tree = super()._parse(source, name, filename)
        for loop in list(tree.find_all(nodes.For)):
            if loop.recursive:
                raise TemplateSyntaxError(
                    "recursive for loops are not allowed in prompt templates", loop.lineno, name, filename
                )
            loop.iter = nodes.Filter(loop.iter, COUNTED, [], [], None, None, lineno=loop.lineno)
            loop.iter.set_environment(self)
        return tree

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "**":
            check_power(left, right)
        elif operator == "*":
            check_product(left, right)
        elif operator == "+":
            limit(weight(left) + weight(right), "'+'")
        elif operator == "%" and isinstance(left, str):
            check_percent(left, right)
        return super().call_binop(context, operator, left, right)

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(__obj, Macro):  # caller() included
            charge_step()
        owner = getattr(__obj, "__self__", None)
        # Markup's methods are Python functions, not builtins: both are checked before they allocate.
        if isinstance(__obj, (types.BuiltinMethodType, types.MethodType)) and isinstance(owner, str):
            args = check_str_method(owner, __obj.__name__, args, kwargs)
        for value in (*args, *kwargs.values()):
            limit(weight(value), "an argument")
        return weighed(super().call(__context, __obj, *args, **kwargs), "a call's result")

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
