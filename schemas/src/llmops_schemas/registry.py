"""Event type -> payload class, and the one way consumers turn Kafka record values into events.

* :data:`EVENT_TYPES` / :func:`payload_class`: which class a CloudEvents ``type`` is validated with.
* :func:`parse_event`: bytes -> :class:`~llmops_schemas.envelope.CloudEvent`, reading as a tolerant
  consumer (unknown envelope extensions and unknown payload fields, nested ones included, are ignored);
  anything wrong raises :class:`EventValidationError`.
* :func:`upcast` (from :mod:`llmops_schemas.upcasting`, re-exported): the hook where a breaking change's
  upcaster turns an event of an old version into the new one.
* :func:`record_key`: the Kafka record key an event is published under.
"""

from __future__ import annotations

import json
import types
from collections.abc import Mapping, Sequence
from re import fullmatch
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

import llmops_schemas.upcasters  # noqa: F401 - registers the upcasters for every reader of events
from llmops_schemas.envelope import EVENT_TYPE_PATTERN, CloudEvent, EventPayload, envelope_class
from llmops_schemas.upcasting import UPCASTERS, Upcaster, UpcasterRegistry, register_upcaster, upcast, with_payload
from llmops_schemas.v1 import PAYLOADS as V1_PAYLOADS
from llmops_schemas.v1.common import CompactedPayload
from llmops_schemas.v2 import PAYLOADS as V2_PAYLOADS

__all__ = [
    "EVENT_TYPES",
    "UPCASTERS",
    "EventValidationError",
    "UnknownEventTypeError",
    "Upcaster",
    "UpcasterRegistry",
    "parse_event",
    "payload_class",
    "record_key",
    "register_upcaster",
    "tolerant_validate",
    "upcast",
    "with_payload",
]

REQUIRED_ATTRIBUTES = ("specversion", "id", "source", "type", "tenantid", "data")
"""Attributes an event read from Kafka must carry (the model would otherwise default ``id``)."""
_DEFAULTED_REQUIRED = frozenset({"specversion", "id"})
"""The required attributes that the envelope model would default when absent."""
MAX_REPORTED_ERRORS = 10


def _build_registry(payloads: Sequence[type[EventPayload]]) -> Mapping[str, type[EventPayload]]:
    registry: dict[str, type[EventPayload]] = {}
    for cls in payloads:
        if not fullmatch(EVENT_TYPE_PATTERN, cls.event_type):
            raise RuntimeError(f"{cls.__name__}.event_type {cls.event_type!r} does not match {EVENT_TYPE_PATTERN}")
        if cls.event_type in registry:
            raise RuntimeError(f"{cls.event_type} is claimed by {registry[cls.event_type].__name__} and {cls.__name__}")
        registry[cls.event_type] = cls
    return types.MappingProxyType(dict(sorted(registry.items())))


EVENT_TYPES: Mapping[str, type[EventPayload]] = _build_registry((*V1_PAYLOADS, *V2_PAYLOADS))
"""Every event type the platform knows, sorted, mapped to its payload class (read-only)."""


class UnknownEventTypeError(KeyError):
    """An event type that no payload class is registered for."""

    def __init__(self, event_type: str) -> None:
        super().__init__(event_type)
        self.event_type = event_type

    def __str__(self) -> str:
        return f"unknown event type {self.event_type!r}; known types: {', '.join(EVENT_TYPES)}"


def payload_class(event_type: str) -> type[EventPayload]:
    """The payload class of ``event_type``; raises :class:`UnknownEventTypeError` (a ``KeyError``)."""
    try:
        return EVENT_TYPES[event_type]
    except KeyError:
        raise UnknownEventTypeError(event_type) from None


class EventValidationError(ValueError):
    """A record value that is not a valid platform event; the message says what is wrong and where.

    ``event_type`` and ``event_id`` are set when they could be read, for logs and dead-letter headers.
    """

    def __init__(self, message: str, *, event_type: str | None = None, event_id: str | None = None) -> None:
        super().__init__(message)
        self.event_type = event_type
        self.event_id = event_id


# --- tolerant reading -------------------------------------------------------------------------------


def _unwrap(tp: Any) -> Any:
    while get_origin(tp) is Annotated:
        tp = get_args(tp)[0]
    return tp


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def _field_names(cls: type[BaseModel]) -> dict[str, str]:
    """Input key -> field name, aliases included."""
    names = {name: name for name in cls.model_fields}
    names.update({f.alias: name for name, f in cls.model_fields.items() if f.alias})
    return names


def _choose_branch(models: list[type[BaseModel]], data: dict[str, Any]) -> type[BaseModel] | None:
    """The union member whose ``Literal`` fields (the discriminators) all match ``data``."""
    if len(models) == 1:
        return models[0]
    for model in models:
        matched = False
        for name, field in model.model_fields.items():
            annotation = _unwrap(field.annotation)
            if get_origin(annotation) is Literal and name in data:
                if data[name] not in get_args(annotation):
                    break
                matched = True
        else:
            if matched:
                return model
    return None


def _strip_unknown(tp: Any, data: Any) -> Any:
    """``data`` without the keys that the models in ``tp`` do not declare, at any depth."""
    tp = _unwrap(tp)
    if _is_model(tp):
        if not isinstance(data, dict):
            return data
        names = _field_names(tp)
        return {
            key: _strip_unknown(tp.model_fields[names[key]].annotation, value)
            for key, value in data.items()
            if key in names
        }
    origin, args = get_origin(tp), get_args(tp)
    if origin in (list, set, frozenset, Sequence) and isinstance(data, list) and args:
        return [_strip_unknown(args[0], item) for item in data]
    if origin in (dict, Mapping) and isinstance(data, dict) and len(args) == 2:
        return {key: _strip_unknown(args[1], value) for key, value in data.items()}
    if origin in (Union, types.UnionType) and isinstance(data, dict):
        models = [a for a in map(_unwrap, args) if _is_model(a)]
        chosen = _choose_branch(models, data) if models else None
        if chosen is not None:
            return _strip_unknown(chosen, data)
    if origin in (Union, types.UnionType) and isinstance(data, list):
        # e.g. ``str | list[ContentPart] | None``: a list can only be the union's list member
        lists = [a for a in args if get_origin(_unwrap(a)) in (list, Sequence)]
        if len(lists) == 1:
            return _strip_unknown(lists[0], data)
    return data


def tolerant_validate(cls: type[EventPayload], data: Any) -> EventPayload:
    """Validate ``data`` as a consumer: fields the class does not know are dropped at every depth.

    ``EventPayload.tolerant`` drops unknown top-level fields only; this also drops them inside nested
    objects (a newer producer may have added an optional field to, say, ``usage``).
    """
    return cls.model_validate(_strip_unknown(cls, data))


# --- parsing ----------------------------------------------------------------------------------------


def _describe(error: ValidationError, prefix: str = "") -> str:
    problems = []
    for item in error.errors(include_url=False)[:MAX_REPORTED_ERRORS]:
        where = ".".join(str(part) for part in (prefix, *item["loc"]) if part != "") or "(root)"
        problems.append(f"{where}: {item['msg']}")
    more = error.error_count() - MAX_REPORTED_ERRORS
    if more > 0:
        problems.append(f"... and {more} more")
    return "; ".join(problems)


def parse_event(
    raw: bytes | str, *, upcast_to_latest: bool = True, expect: type[EventPayload] | None = None
) -> CloudEvent[Any]:
    """Parse a record value into a CloudEvent whose ``data`` is an instance of the type's payload class.

    The envelope must be a CloudEvents 1.0 JSON object with the platform's required attributes;
    unknown extension attributes and unknown payload fields are ignored (consumers are tolerant).
    With ``upcast_to_latest`` the event then goes through :func:`upcast`. Every failure raises
    :class:`EventValidationError`.

    ``expect`` is the payload class a consumer mostly reads (the one its topic carries): an event of
    exactly that type, as the platform writes it, is then validated straight from the bytes in one
    pydantic-core pass, with no intermediate ``json.loads``. Anything else takes the general path, so the
    result and the errors are the same with or without it.
    """
    if expect is not None:
        expected = _validate_expected(raw, expect)
        if expected is not None:
            return upcast(expected) if upcast_to_latest else expected
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes | bytearray) else raw
    except UnicodeDecodeError as exc:
        raise EventValidationError(f"event is not valid UTF-8: {exc}") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise EventValidationError(f"event is not valid JSON: {exc}") from None
    if not isinstance(document, dict):
        raise EventValidationError(f"event must be a JSON object, got {type(document).__name__}")

    event_type = document.get("type")
    event_id = document.get("id")
    context = {
        "event_type": event_type if isinstance(event_type, str) else None,
        "event_id": event_id if isinstance(event_id, str) else None,
    }
    missing = [name for name in REQUIRED_ATTRIBUTES if document.get(name) is None]
    if missing:
        raise EventValidationError(f"event lacks required attributes: {', '.join(missing)}", **context)
    if not isinstance(event_type, str):
        raise EventValidationError("event attribute 'type' must be a string", **context)
    try:
        cls = payload_class(event_type)
    except UnknownEventTypeError as exc:
        raise EventValidationError(str(exc), **context) from None

    envelope = envelope_class(cls)
    try:
        # Fast path: an event exactly as the platform writes it validates as a whole (pydantic-core in one
        # pass); only one that carries unknown attributes or fields (or is invalid) takes the tolerant path.
        event = envelope.model_validate(document)
    except ValidationError:
        event = _tolerant_event(envelope, cls, document, context)
    return upcast(event) if upcast_to_latest else event


def _validate_expected(raw: bytes | str, expect: type[EventPayload]) -> CloudEvent[Any] | None:
    """``raw`` as an event of ``expect``'s type when it is exactly one, else None (the general path decides)."""
    try:
        # by_name=False: on the wire the attributes have their CloudEvents names only (``tenantid``).
        event = envelope_class(expect).model_validate_json(raw, by_name=False)
    except ValidationError:
        return None
    # The model defaults ``specversion`` and ``id``; an event read from Kafka must carry them (the general
    # path then names what is missing).
    exact = event.type == expect.event_type and event.model_fields_set >= _DEFAULTED_REQUIRED
    return event if exact else None


def _tolerant_event(
    envelope: type[CloudEvent[Any]], cls: type[EventPayload], document: dict[str, Any], context: dict[str, Any]
) -> CloudEvent[Any]:
    event_type = document["type"]
    try:
        payload = tolerant_validate(cls, document["data"])
    except ValidationError as exc:
        raise EventValidationError(f"invalid {event_type} data: {_describe(exc, 'data')}", **context) from None

    known = _field_names(CloudEvent)
    attributes = {key: value for key, value in document.items() if key in known and key != "data"}
    try:
        return envelope.model_validate({**attributes, "data": payload})
    except ValidationError as exc:
        raise EventValidationError(f"invalid {event_type} envelope: {_describe(exc)}", **context) from None


# --- keys -------------------------------------------------------------------------------------------


def record_key(event: CloudEvent[Any]) -> bytes:
    """The Kafka record key of ``event``.

    Stream topics are keyed by tenant (a tenant's events stay in order). Compacted topics are keyed
    by ``<tenant>:<entity key>`` (as infra/kafka/topics.yaml documents), so that compaction keeps the
    latest record of each entity of each tenant.
    """
    data = event.data
    if isinstance(data, CompactedPayload):
        return f"{event.tenant_id}:{data.entity_key()}".encode()
    return event.tenant_id.encode()
