"""How :mod:`llmops_schemas.fastcodec` compiles a pydantic model into msgspec struct types (docs/adr/0014).

:func:`derive` maps each field's type, constraints, default and wire name, and the model's ``mode="after"``
validators, to a struct that accepts exactly what the model accepts or less; whatever it cannot express exactly
raises :class:`Unsupported`. Each (model, variant) is compiled once.
"""

from __future__ import annotations

import re
import types
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import msgspec
from annotated_types import Ge, GroupedMetadata, Gt, Le, Lt, MaxLen, MinLen
from pydantic import AwareDatetime, BaseModel, JsonValue
from pydantic.fields import FieldInfo
from pydantic.types import AllowInfNan, Strict

__all__ = ["Unsupported", "derive"]

_MAX_FLOAT = 1.7976931348623157e308
_TRAILING_DOLLAR = re.compile(r"(?<!\\)((?:\\\\)*)\$$")
_HARMLESS_CONFIG = {"frozen", "extra", "populate_by_name", "title", "json_schema_extra", "defer_build"}
_DEFAULT_CONFIG = {"str_strip_whitespace": False, "str_to_lower": False, "str_to_upper": False, "strict": False}
"""Settings that, at these values, are pydantic's defaults."""
_HARMLESS_GENERAL = {"pattern", "allow_inf_nan"}
MAX_JSON_DEPTH = 64
"""Deepest nesting of a JSON value field (``JsonValue``) the structs accept. pydantic refuses input nested beyond
its recursion limits (about 200 levels of JSON, 255 of Python values), msgspec goes further: deeper values are
left to pydantic."""


class Unsupported(TypeError):
    """A model (or one of its fields) that the derivation cannot express exactly."""


def derive(
    model: type[BaseModel], *, strict: bool, required: frozenset[str] = frozenset(), omit_none: bool = False
) -> type[msgspec.Struct]:
    """The struct type of ``model`` (cached): ``strict`` refuses unknown fields, ``required`` are required even
    where the model has a default. ``omit_none`` structs encode as pydantic's ``exclude_none`` dumps: a field
    whose value is None is left out, every other field is written (a default too). Raises :class:`Unsupported`."""
    return _Deriver(strict, omit_none).model(model, required=required)


_DERIVED: dict[tuple[type[BaseModel], bool, bool, frozenset[str], tuple[str, str] | None], type[msgspec.Struct]] = {}
"""Every struct derived so far, by model, variant, required fields and tag (each model is compiled once)."""


class _Deriver:
    def __init__(self, strict: bool, omit_none: bool = False) -> None:
        self.strict = strict
        self.omit_none = omit_none

    def model(
        self, model: type[BaseModel], *, required: frozenset[str] = frozenset(), tag: tuple[str, str] | None = None
    ) -> type[msgspec.Struct]:
        key = (model, self.strict, self.omit_none, required, tag)
        if key not in _DERIVED:
            try:
                _DERIVED[key] = self.build(model, required, tag)
            except RecursionError:
                raise Unsupported(f"{model.__name__} is recursive") from None
        return _DERIVED[key]

    def build(self, model: type[BaseModel], required: frozenset[str], tag: tuple[str, str] | None) -> Any:
        config = model.model_config
        changed = {k for k, v in config.items() if k not in _HARMLESS_CONFIG and (k, v) not in _DEFAULT_CONFIG.items()}
        if changed or config.get("extra") == "allow":
            raise Unsupported(f"{model.__name__}: model_config {dict(config)} changes validation")
        after = _after_validators(model)
        fields: list[tuple[str, Any, Any]] = []
        json_fields: list[str] = []
        rename: dict[str, str] = {}
        for name, field in model.model_fields.items():
            if tag is not None and name == tag[0]:
                continue  # the union's tag: msgspec reads it, the class attribute below exposes it
            where = f"{model.__name__}.{name}"
            if field.exclude or field.validation_alias not in (None, field.alias):
                raise Unsupported(f"{where}: an exclusion or a validation alias")
            if field.alias and field.alias != name:
                rename[name] = field.alias
            typ = self.field_type(field, where)
            if _holds_any(typ):
                json_fields.append(name)
            fields.append((name, typ, self.default(field, name in required, typ, where)))
        options: dict[str, Any] = {}
        namespace: dict[str, Any] = {}
        if tag is not None:
            options.update(tag_field=tag[0], tag=tag[1])
            namespace[tag[0]] = tag[1]
        if after or json_fields:
            namespace["__post_init__"] = _post_init(after, json_fields)
        return msgspec.defstruct(
            model.__name__,
            fields,
            kw_only=True,
            frozen=True,
            # Untracked by the cyclic collector: a struct is built from decoded JSON or by a constructor from values,
            # is frozen, and so can never be part of a reference cycle (a tree of structs, lists, dicts and
            # scalars); reference counting frees it. The warehouse holds two batches of up to 50,000 decoded calls
            # (a dozen structs each) that every collection walked: 2.8-4.2 -> 1.5-1.7 us of collector time per call
            # stored (docs/adr/0062). The lists and dicts inside are still tracked.
            gc=False,
            forbid_unknown_fields=self.strict and config.get("extra") == "forbid",
            omit_defaults=self.omit_none,
            rename=rename or None,
            namespace=namespace,
            **options,
        )

    def default(self, field: FieldInfo, required: bool, typ: Any, where: str) -> Any:
        """The field's default; with ``omit_none`` only a None default stays one that msgspec can leave out:
        ``omit_defaults`` omits a value equal to its default, pydantic's ``exclude_none`` only a None."""
        if self.omit_none and _may_be_none(typ) and (required or field.is_required() or field.default is not None):
            raise Unsupported(f"{where}: a field that may be None and whose default is not (exclude_none omits it)")
        if required or field.is_required():
            return msgspec.NODEFAULT
        if field.default_factory is not None:
            if field.default_factory_takes_validated_data:
                raise Unsupported(f"{where}: a default factory that reads the data")
            factory: Callable[[], Any] = self.factory(field.default_factory, where)  # type: ignore[arg-type]
            return msgspec.field(default_factory=_opaque(factory) if self.omit_none else factory)
        value = field.default
        if isinstance(value, BaseModel | list | dict | set):
            raise Unsupported(f"{where}: a mutable default")
        if self.omit_none and value is not None:
            return msgspec.field(default_factory=lambda: value)
        return value

    def factory(self, factory: Callable[[], Any], where: str) -> Callable[[], Any]:
        if isinstance(factory, type) and issubclass(factory, BaseModel):
            return self.model(factory)
        if isinstance(factory(), BaseModel):
            raise Unsupported(f"{where}: a default factory returning a model")
        return factory

    def field_type(self, field: FieldInfo, where: str) -> Any:
        metadata = list(field.metadata)
        if field.discriminator is not None:
            metadata.append(field)
        return self.type(field.annotation, metadata, where)

    def type(self, tp: Any, metadata: list[Any], where: str, inherited: dict[str, Any] | None = None) -> Any:
        """The msgspec type of ``tp`` with the constraints in ``metadata`` (and ``inherited``) applied to it."""
        while get_origin(tp) is Annotated:
            tp, *more = get_args(tp)
            metadata = [*metadata, *more]
        constraints, discriminator = _constraints(metadata, where)
        constraints = {**(inherited or {}), **constraints}
        origin, args = get_origin(tp), get_args(tp)
        if origin in (Union, types.UnionType):
            return self.union(args, constraints, discriminator, where)
        if discriminator is not None:
            raise Unsupported(f"{where}: a discriminator on a non-union")
        return _annotate(self.plain(tp, origin, args, constraints, where), constraints)

    def plain(self, tp: Any, origin: Any, args: tuple[Any, ...], constraints: dict[str, Any], where: str) -> Any:
        if tp is JsonValue or tp is Any:
            if constraints:
                raise Unsupported(f"{where}: constraints on a JSON value")
            return Any
        if tp is AwareDatetime:
            return Annotated[datetime, msgspec.Meta(tz=True)]
        if tp in (str, int, bool, datetime, type(None)):
            return tp
        if tp is float:
            if constraints.pop("finite", False):  # msgspec reads 1e999 as inf; pydantic refuses it here
                if "gt" not in constraints:
                    constraints.setdefault("ge", -_MAX_FLOAT)
                if "lt" not in constraints:
                    constraints.setdefault("le", _MAX_FLOAT)
            return float
        if origin is Literal and all(type(a) in (str, int) for a in args):
            return tp
        if origin is list and len(args) == 1:
            return list.__class_getitem__(self.type(args[0], [], where))
        if origin is dict and len(args) == 2:
            key = self.type(args[0], [], where)
            if (get_args(key)[0] if get_origin(key) is Annotated else key) is not str:
                raise Unsupported(f"{where}: a dict whose keys are not strings")
            return dict.__class_getitem__((key, self.type(args[1], [], where)))
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            return self.model(tp)
        raise Unsupported(f"{where}: type {tp!r}")

    def union(self, args: tuple[Any, ...], constraints: dict[str, Any], discriminator: str | None, where: str) -> Any:
        members = [a for a in args if a is not type(None)]
        optional = len(members) < len(args)
        if discriminator is not None:
            derived = self.tagged(members, discriminator, where)
        elif len(members) == 1:
            derived = self.type(members[0], [], where, constraints)
        else:
            if constraints:
                raise Unsupported(f"{where}: constraints on a union of several types")
            kinds = [_kind(m) for m in members]
            if None in kinds or len(set(kinds)) < len(kinds):
                raise Unsupported(f"{where}: a union whose members are not of distinct JSON kinds")
            derived = Union[tuple(self.type(m, [], where) for m in members)]  # noqa: UP007 - built at run time
        return derived | None if optional else derived

    def tagged(self, members: list[Any], field: str, where: str) -> Any:
        structs = []
        for member in members:
            while get_origin(member) is Annotated:
                member = get_args(member)[0]
            if not (isinstance(member, type) and issubclass(member, BaseModel)) or field not in member.model_fields:
                raise Unsupported(f"{where}: a discriminated union member that is not a model with {field!r}")
            literal = member.model_fields[field].annotation
            if get_origin(literal) is not Literal or not all(isinstance(v, str) for v in get_args(literal)):
                raise Unsupported(f"{where}: a discriminator that is not a Literal of strings")
            structs += [self.model(member, tag=(field, value)) for value in get_args(literal)]
        return Union[tuple(structs)]  # noqa: UP007 - built at run time


def _may_be_none(tp: Any) -> bool:
    while get_origin(tp) is Annotated:
        tp = get_args(tp)[0]
    return tp is Any or (get_origin(tp) in (Union, types.UnionType) and type(None) in get_args(tp))


def _opaque(factory: Callable[[], Any]) -> Callable[[], Any]:
    """``factory`` wrapped so that msgspec's ``omit_defaults`` cannot see what it makes (it leaves out an empty
    collection of a ``list`` or ``dict`` factory, as it leaves out a value equal to a plain default)."""
    return lambda: factory()


def _kind(tp: Any) -> str | None:
    """The JSON kind a union member reads from (None: not one this derivation can tell apart)."""
    while get_origin(tp) is Annotated:
        tp = get_args(tp)[0]
    origin = get_origin(tp)
    if tp is str or (origin is Literal and all(isinstance(a, str) for a in get_args(tp))):
        return "string"
    if tp is bool:
        return "bool"
    if tp is int or tp is float:
        return "number"
    if origin is list:
        return "array"
    if origin is dict or (isinstance(tp, type) and issubclass(tp, BaseModel)):
        return "object"
    return None


def _expand(metadata: list[Any]) -> Iterator[Any]:
    for item in metadata:
        if isinstance(item, FieldInfo):
            yield from _expand(list(item.metadata))
            if item.discriminator is not None:
                yield ("discriminator", item.discriminator)
        elif isinstance(item, GroupedMetadata):
            yield from _expand(list(item))
        else:
            yield item


def _constraints(metadata: list[Any], where: str) -> tuple[dict[str, Any], str | None]:
    """msgspec ``Meta`` keywords (and ``finite`` for ``allow_inf_nan=False``) and the discriminator, if any."""
    out: dict[str, Any] = {}
    discriminator = None
    for item in _expand(metadata):
        if isinstance(item, tuple) and item[0] == "discriminator":
            if not isinstance(item[1], str):
                raise Unsupported(f"{where}: a callable discriminator")
            discriminator = item[1]
        elif isinstance(item, MinLen | MaxLen | Ge | Gt | Le | Lt):
            name = type(item).__name__.lower()
            key = {"minlen": "min_length", "maxlen": "max_length"}.get(name, name)
            out[key] = getattr(item, key)
        elif isinstance(item, AllowInfNan):
            if not item.allow_inf_nan:
                out["finite"] = True
        elif isinstance(item, Strict) and item.strict:
            pass  # msgspec's decoding is strict already: no 0 for false, no "3" or true for 3
        elif type(item).__name__ == "_PydanticGeneralMetadata":
            settings = {k: v for k, v in vars(item).items() if v is not None}
            if set(settings) - _HARMLESS_GENERAL:
                raise Unsupported(f"{where}: {settings} transforms or relaxes the value")
            if "pattern" in settings:
                out["pattern"] = _python_pattern(settings["pattern"])
            if settings.get("allow_inf_nan") is False:
                out["finite"] = True
        elif type(item).__name__ != "WithJsonSchema":  # documentation only
            raise Unsupported(f"{where}: {item!r}")
    return out, discriminator


def _python_pattern(pattern: str) -> str:
    """``pattern`` as Python's ``re`` must read it to mean what pydantic-core's regex does.

    Python's ``$`` also matches before a final newline; pydantic-core's does not, so a final ``$`` becomes ``\\Z``.
    """
    if isinstance(pattern, re.Pattern):
        raise Unsupported("a compiled pattern")
    return _TRAILING_DOLLAR.sub(lambda m: m.group(1) + r"\Z", pattern)


def _annotate(tp: Any, constraints: dict[str, Any]) -> Any:
    if "finite" in constraints:
        raise Unsupported(f"allow_inf_nan on {tp!r}")
    return Annotated[tp, msgspec.Meta(**constraints)] if constraints else tp


def _after_validators(model: type[BaseModel]) -> list[Callable[[Any], Any]]:
    decorators = model.__pydantic_decorators__
    for kind in ("validators", "field_validators", "root_validators", "field_serializers", "model_serializers"):
        if getattr(decorators, kind):
            raise Unsupported(f"{model.__name__}: {kind}")
    if decorators.computed_fields:
        raise Unsupported(f"{model.__name__}: computed fields")
    validators = []
    for decorator in decorators.model_validators.values():
        if decorator.info.mode != "after":
            raise Unsupported(f"{model.__name__}: a {decorator.info.mode} model validator")
        func = decorator.func
        methods = {n for n in func.__code__.co_names if n not in model.model_fields and hasattr(model, n)}
        if methods:
            raise Unsupported(f"{model.__name__}: a model validator that uses {sorted(methods)} of the model")
        validators.append(func)
    return validators


def _holds_any(tp: Any) -> bool:
    """Whether the derived type ``tp`` reads a JSON value (``Any``) somewhere, not only a struct of its own."""
    return tp is Any or any(_holds_any(arg) for arg in get_args(tp) if not isinstance(arg, msgspec.Meta))


def _too_deep(value: Any) -> bool:
    """Whether ``value`` nests lists and objects more than :data:`MAX_JSON_DEPTH` levels deep."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children:
            if depth >= MAX_JSON_DEPTH:
                return True
            stack.extend((child, depth + 1) for child in children)
    return False


def _post_init(validators: list[Callable[[Any], Any]], json_fields: list[str]) -> Callable[[Any], None]:
    if len(validators) == 1 and not json_fields:
        return _one_validator(validators[0])

    def __post_init__(self: Any) -> None:
        for name in json_fields:
            if _too_deep(getattr(self, name)):
                raise ValueError(f"{type(self).__name__}.{name} nests deeper than {MAX_JSON_DEPTH} levels")
        for validate in validators:
            try:
                validate(self)
            except AttributeError as exc:  # it reads something only the model has: refuse, pydantic decides
                raise ValueError(f"cannot validate {type(self).__name__} here: {exc}") from None

    return __post_init__


def _one_validator(validate: Callable[[Any], Any]) -> Callable[[Any], None]:
    """The ``__post_init__`` of a struct with one model validator and no JSON field, the common case (a call's
    messages, choices, usage and the call itself): no loops, on every struct decoded on the hot paths."""

    def __post_init__(self: Any) -> None:
        try:
            validate(self)
        except AttributeError as exc:  # as in _post_init: pydantic decides
            raise ValueError(f"cannot validate {type(self).__name__} here: {exc}") from None

    return __post_init__
