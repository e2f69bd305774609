"""The derived decoders (llmops_schemas.fastcodec) never accept what pydantic rejects, and agree with it.

Every payload type either derives or is reported Unsupported; the invalid corpora of the schema, registry and
ingest tests and thousands of generated mutations of every example run through both decoders.
"""

from __future__ import annotations

import json
import zlib
from typing import Any

import msgspec
import pytest
from llmops_schemas import v1, v2
from llmops_schemas.envelope import CloudEvent, EventPayload
from llmops_schemas.fastcodec import (
    Unsupported,
    event_decoder,
    event_struct,
    payload_decoder,
    producer_event_struct,
    producer_struct,
    struct_type,
    to_struct,
)
from llmops_schemas.registry import parse_event
from llmops_schemas.v1.examples import ENVELOPE_EXAMPLE, example, example_data
from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from tests.unit.ingest.test_ingest_handlers import INVALID_RECORDS
from tests.unit.schemas.fastcodec_diff import check_event, check_payload, encode, mutations
from tests.unit.schemas.test_payloads import INVALID
from tests.unit.schemas.test_schema_registry import BROKEN

PAYLOADS: tuple[type[EventPayload], ...] = (*v1.PAYLOADS, *v2.PAYLOADS)
UNSUPPORTED = {
    # Amounts are Decimals parsed by a BeforeValidator; an IP address is a type msgspec does not have.
    v1.CostRecorded,
    v2.CostRecorded,
    v1.BudgetConfigured,
    v1.BudgetStateChanged,
    v1.PricePublished,
    v1.AuditRecorded,
    v1.PromptVersionPublished,  # its validator calls a method of the model
}
DERIVED = tuple(cls for cls in PAYLOADS if cls not in UNSUPPORTED)


@pytest.mark.parametrize("cls", PAYLOADS, ids=[c.event_type for c in PAYLOADS])
def test_every_payload_derives_or_is_reported_unsupported(cls: type[EventPayload]) -> None:
    if cls in UNSUPPORTED:
        with pytest.raises(Unsupported, match=cls.__name__):
            struct_type(cls)
        return
    for strict in (False, True):
        assert issubclass(struct_type(cls, strict=strict), msgspec.Struct)
        assert issubclass(event_struct(cls, strict=strict), msgspec.Struct)


def test_the_call_event_v2_and_its_envelope_derive_and_are_cached() -> None:
    assert struct_type(v2.CallRecorded) is struct_type(v2.CallRecorded)
    assert event_struct(v2.CallRecorded) is not event_struct(v2.CallRecorded, strict=True)
    raw = json.dumps(ENVELOPE_EXAMPLE).encode()
    event = event_decoder(v2.CallRecorded).decode(raw)
    assert event is not None
    assert event.tenant_id == "acme"
    assert msgspec.to_builtins(event) == parse_event(raw).model_dump(mode="json", by_alias=True)
    media = event.data.messages[1].content[1]
    assert (media.type, media.media_type) == ("image", "image/png")  # a tagged union member still says its type


@pytest.mark.parametrize("cls", DERIVED, ids=[c.event_type for c in DERIVED])
def test_examples_decode_equally(cls: type[EventPayload]) -> None:
    raw = encode(example_data(cls))
    assert check_payload(cls, raw, strict=True)
    assert check_payload(cls, raw, strict=False)
    wire = CloudEvent.wrap(example(cls), source="/tests", tenant_id="acme", trace_id="t-1").to_json_bytes()
    assert check_event(cls, wire)


@pytest.mark.parametrize("cls", DERIVED, ids=[c.event_type for c in DERIVED])
def test_producer_structs_write_what_pydantic_writes(cls: type[EventPayload]) -> None:
    """The producer's structs encode the JSON value of ``to_json_bytes``: a None left out, every default written."""
    try:
        event_type = producer_event_struct(cls)
    except Unsupported:
        return  # a field that may be None but defaults to something else: exclude_none would drop it
    event = CloudEvent.wrap(example(cls), source="/tests", tenant_id="acme", trace_id="t-1")
    for data in (example_data(cls), {**example_data(cls), **_nulls(cls)}):
        try:
            cls.model_validate(data)
        except ValidationError:
            continue  # nulls a model validator refuses (the struct refuses them too: the corpora check that)
        payload = msgspec.convert(data, producer_struct(cls))
        attributes = event.model_dump(by_alias=True, exclude={"data"})
        derived = msgspec.convert({**attributes, "data": payload}, event_type)
        expected = event.model_copy(update={"data": cls.model_validate(data)}).to_json_bytes()
        assert json.loads(msgspec.json.encode(derived)) == json.loads(expected)


def _nulls(cls: type[EventPayload]) -> dict[str, None]:
    """Every optional field of ``cls`` explicitly null (the example may set some)."""
    return {name: None for name, field in cls.model_fields.items() if not field.is_required() and field.default is None}


def test_to_struct_equals_the_pydantic_event() -> None:
    event = parse_event(json.dumps(ENVELOPE_EXAMPLE))
    assert msgspec.to_builtins(to_struct(event)) == event.model_dump(mode="json", by_alias=True)
    payload = example(v2.CallRecorded)
    assert msgspec.to_builtins(to_struct(payload)) == payload.model_dump(mode="json")


# --- the invalid corpora ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cls", "change", "_message"), INVALID, ids=[f"{c.__name__}-{i}" for i, (c, _, _) in enumerate(INVALID)]
)
def test_the_invalid_payload_corpus_is_refused(cls: type[EventPayload], change: dict[str, Any], _message: str) -> None:
    if cls in UNSUPPORTED:
        return
    data = {**example_data(cls), **change}
    raw = encode(data).replace(b"NaN", b"1e999")  # JSON has no NaN: the nearest wire form
    assert not check_payload(cls, raw, strict=True)
    assert not check_payload(cls, raw, strict=False)


@pytest.mark.parametrize(("raw", "_message"), BROKEN, ids=[m for _, m in BROKEN])
def test_the_broken_events_are_refused(raw: bytes, _message: str) -> None:
    assert not check_event(v2.CallRecorded, raw)


@pytest.mark.parametrize("overrides", [o for o, _, _ in INVALID_RECORDS], ids=[t for _, _, t in INVALID_RECORDS])
def test_the_invalid_ingest_records_are_refused(overrides: dict[str, Any]) -> None:
    record = example_data(v1.CallRecorded)  # the overrides apply to it as to the ingest tests' own record
    drop = overrides.get("drop", ())
    record = {k: v for k, v in {**record, **overrides}.items() if k not in (*drop, "drop")}
    raw = json.dumps(record).encode()
    for cls in (v1.CallRecorded, v2.CallRecorded):
        assert not check_payload(cls, raw, strict=True)
        check_payload(cls, raw, strict=False)  # a tolerant reader may accept (unknown fields), but only equally


# --- generated inputs ---------------------------------------------------------------------------------

MUTATIONS = 1000


@pytest.mark.parametrize("cls", DERIVED, ids=[c.event_type for c in DERIVED])
def test_mutated_payloads_never_pass_only_the_derived_decoder(cls: type[EventPayload]) -> None:
    accepted = 0
    for i, raw in enumerate(mutations(example_data(cls), MUTATIONS, seed=zlib.crc32(cls.event_type.encode()))):
        accepted += check_payload(cls, raw, strict=i % 2 == 0)
    assert accepted > 0  # the mutations are not all rejections


def test_mutated_call_events_never_pass_only_the_derived_decoder() -> None:
    accepted = sum(check_event(v2.CallRecorded, raw) for raw in mutations(ENVELOPE_EXAMPLE, 3 * MUTATIONS, seed=7))
    assert accepted > 0


# --- what cannot be derived -----------------------------------------------------------------------------


class _Before(BaseModel):
    value: int

    @model_validator(mode="before")
    @classmethod
    def _shape(cls, data: Any) -> Any:
        return data


class _FieldValidated(BaseModel):
    value: int

    @field_validator("value")
    @classmethod
    def _positive(cls, value: int) -> int:
        return value


class _Ambiguous(BaseModel):
    value: int | float


class _Transforming(BaseModel):
    value: str = Field(pattern="^x$")
    model_config = {"str_strip_whitespace": True}


@pytest.mark.parametrize("model", [_Before, _FieldValidated, _Ambiguous, _Transforming])
def test_what_cannot_be_expressed_exactly_is_unsupported(model: type[BaseModel]) -> None:
    with pytest.raises(Unsupported):
        struct_type(model)


class _OneValidator(BaseModel):
    value: int

    @model_validator(mode="after")
    def _small(self) -> _OneValidator:
        if self.value > 9:
            raise ValueError("too large")
        return self


class _ReadsWhatOnlyTheModelHas(BaseModel):
    value: int

    @model_validator(mode="after")
    def _fields_set(self) -> _ReadsWhatOnlyTheModelHas:
        getattr(self, "model_fields_set")  # noqa: B009 - a name the derivation cannot see in the code
        return self


def test_a_single_model_validator_judges_the_struct() -> None:
    """The one-validator ``__post_init__`` (no loop) refuses what the validator refuses, and refuses (pydantic
    decides) where the validator reads what only the model has."""
    struct = struct_type(_OneValidator)
    assert msgspec.convert({"value": 3}, struct).value == 3
    with pytest.raises(msgspec.ValidationError, match="too large"):
        msgspec.convert({"value": 10}, struct)
    with pytest.raises(msgspec.ValidationError, match="cannot validate"):
        msgspec.convert({"value": 1}, struct_type(_ReadsWhatOnlyTheModelHas))


def test_a_final_dollar_does_not_match_before_a_trailing_newline() -> None:
    decoder = payload_decoder(v2.CallRecorded)
    data = example_data(v2.CallRecorded)
    assert decoder.decode(encode(data)) is not None
    assert decoder.decode(encode({**data, "call_id": data["call_id"] + "\n"})) is None


@pytest.mark.parametrize("started_at", ["2025-03-14T09:26:53.1234567Z", "2025-03-14T09:26:53.12345\\u00367Z"])
def test_times_finer_than_a_microsecond_are_left_to_pydantic(started_at: str) -> None:
    raw = encode({**example_data(v2.CallRecorded), "started_at": started_at}).replace(b"\\\\", b"\\")
    assert payload_decoder(v2.CallRecorded).decode(raw) is None  # msgspec would round, pydantic truncates
    assert v2.CallRecorded.model_validate_json(raw).started_at.microsecond == 123456


class _Finite(BaseModel):
    value: float = Field(allow_inf_nan=False)


@pytest.mark.parametrize("value", [float("inf"), float("-inf"), float("nan")])
def test_a_finite_float_refuses_infinity(value: float) -> None:
    assert payload_decoder(_Finite).decode(b'{"value": 1e999}') is None  # msgspec refuses it already
    with pytest.raises(msgspec.ValidationError):  # and the bounds refuse it from Python objects too
        msgspec.convert({"value": value}, struct_type(_Finite))
    assert payload_decoder(_Finite).decode(b'{"value": 1.5e308}') == struct_type(_Finite)(value=1.5e308)


def test_bytes_that_are_not_utf8_are_left_to_pydantic() -> None:
    raw = CloudEvent.wrap(example(v2.CallRecorded), source="/s", tenant_id="acme").to_json_bytes()
    broken = raw.replace(b'"call_id":"', b'"call_id":"\xff\xfe', 1)
    assert broken != raw and event_decoder(v2.CallRecorded).decode(broken) is None


def test_derived_structs_are_not_tracked_by_the_cyclic_collector() -> None:
    """Decoded calls hold lists of structs; the structs themselves stay out of every collection (docs/adr/0062)."""
    import gc

    event = payload_decoder(v2.CallRecorded).decode(encode(example_data(v2.CallRecorded)))
    assert event is not None and event.messages
    assert not gc.is_tracked(event)
    assert not any(gc.is_tracked(message) for message in event.messages)
    assert gc.is_tracked(event.messages)  # the list is, as any list: only the frozen structs are left out
