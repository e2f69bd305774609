"""Differential checking of the derived decoders against pydantic, and a seeded mutator of valid documents.

:func:`check_payload` and :func:`check_event` run one input through both; they fail when the derived decoder
accepts what pydantic rejects, or when both accept and the results differ. :func:`mutations` yields
deterministic variants of a valid document: dropped, retyped and duplicated fields, boundary lengths, trailing
newlines in patterned strings, naive datetimes, ``1e999``, unicode and unknown fields at any depth.
"""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Iterator
from typing import Any

import msgspec
from llmops_schemas.envelope import EventPayload
from llmops_schemas.fastcodec import event_decoder, payload_decoder
from llmops_schemas.registry import EventValidationError, parse_event, tolerant_validate
from pydantic import BaseModel, ValidationError

INF = "__INF__"
"""A marker that :func:`encode` writes as ``1e999`` (JSON has no infinity; msgspec reads it as inf)."""

LENGTHS = (0, 1, 2, 63, 64, 65, 127, 128, 129, 255, 256, 257, 1024, 1025, 16_384, 16_385)
ODD_STRINGS = ("", " ", "x\n", "é", "\u2028", "\x00", "\x1c", "😀", "\ud800", "A-1", "a b", "IMAGE", "Z")
ODD_NUMBERS = (-1, 0, 1, 0.5, -0.0, 2, 3.0, 2**31, 2**63, 2**64, 1e20, -1e9, -1e9 - 1, 86_400_001, INF, "-" + INF)


def encode(document: Any) -> bytes:
    """``document`` as JSON bytes, :data:`INF` written as ``1e999``."""
    text = json.dumps(document, ensure_ascii=True)
    return text.replace(f'"-{INF}"', "-1e999").replace(f'"{INF}"', "1e999").encode()


def check_payload(model: type[BaseModel], raw: bytes, *, strict: bool) -> bool:
    """True when the derived decoder accepted ``raw``; fails unless pydantic then accepts it, equally."""
    derived = payload_decoder(model, strict=strict).decode(raw)
    if derived is None:
        return False
    try:
        if strict:
            expected: Any = model.model_validate_json(raw)
        else:
            expected = tolerant_validate(model, json.loads(raw))  # type: ignore[arg-type]
    except (ValidationError, ValueError) as exc:
        raise AssertionError(f"derived {model.__name__} accepted what pydantic rejects: {raw[:300]!r}: {exc}") from exc
    assert msgspec.to_builtins(derived) == expected.model_dump(mode="json", by_alias=True), raw[:300]
    return True


def check_event(payload: type[EventPayload], raw: bytes) -> bool:
    """As :func:`check_payload` for a whole event read by a consumer (the derived path checks ``type``)."""
    derived = event_decoder(payload).decode(raw)
    if derived is None or derived.type != payload.event_type:
        return False
    try:
        expected = parse_event(raw, upcast_to_latest=False)
    except EventValidationError as exc:
        raise AssertionError(f"derived event accepted what parse_event rejects: {raw[:300]!r}: {exc}") from exc
    got, want = msgspec.to_builtins(derived), expected.model_dump(mode="json", by_alias=True)
    if "time" not in json.loads(raw):  # both default it to the time of decoding
        del got["time"], want["time"]
    assert got == want, raw[:300]
    return True


# --- mutations --------------------------------------------------------------------------------------


def _paths(document: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(document, dict):
        for key, value in document.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(document, list):
        for index, value in enumerate(document):
            yield from _paths(value, (*prefix, index))


def _replacements(rng: random.Random, value: Any) -> list[Any]:
    """What a value at some path may become."""
    options: list[Any] = [None, True, [], {}, *rng.sample(ODD_NUMBERS, 3), *rng.sample(ODD_STRINGS, 3)]
    if isinstance(value, str):
        options += [value + "\n", value + " ", value.upper(), value[:-1], "x" * rng.choice(LENGTHS)]
        options += [value.replace("Z", ""), value.replace("Z", "+02:00"), value.replace("T", " ")]
        options += [value + "\ud800", value.replace("Z", ".123456789Z"), value.replace("-", "", 1)]
    if isinstance(value, bool):
        options += [not value, 1, "true"]
    elif isinstance(value, int | float):
        options += [value + 1, value - 1, -value, str(value), float(value), value * 1e6]
    if isinstance(value, list):
        options += [value * 2, value * 200, value[:0], [*value, *value[:1]], [None]]
    if isinstance(value, dict):
        options += [{**value, "zz_unknown": {"nested": 1}}, {k: v for k, v in value.items() if k != "type"}, [value]]
    return options


def _mutate_once(rng: random.Random, document: Any) -> Any:
    paths = list(_paths(document))
    path = rng.choice(paths[1:] or paths)
    if not path:
        return rng.choice(_replacements(rng, document))
    parent = document
    for step in path[:-1]:
        parent = parent[step]
    last = path[-1]
    if isinstance(parent, dict) and rng.random() < 0.2:
        del parent[last]  # drop a field
    elif isinstance(parent, dict) and rng.random() < 0.1:
        parent[f"{last}_copy"] = parent[last]  # an unknown field beside a known one
    else:
        parent[last] = rng.choice(_replacements(rng, parent[last]))
    return document


def mutations(document: Any, count: int, seed: int) -> Iterator[bytes]:
    """``count`` deterministic variants of ``document`` (one to three changes each), as JSON bytes."""
    rng = random.Random(seed)
    for _ in range(count):
        variant = copy.deepcopy(document)
        for _ in range(rng.randint(1, 3)):
            variant = _mutate_once(rng, variant)
        yield encode(variant)
