"""Cost per call: priced from the catalog, estimated without usage, explicitly unpriced, the same event every time."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from llmops_cost.handlers import Pricer, cost_event_id, price_calls
from llmops_cost.prices import PriceBook
from llmops_cost.tokens import TokenCounter
from llmops_kit.kafka.publisher import InMemoryPublisher
from llmops_schemas import CloudEvent
from llmops_schemas.v1.examples import example_data
from llmops_schemas.v2 import CallRecorded, CostRecorded

NOW = datetime(2026, 3, 14, 9, 0, tzinfo=UTC)


def _call(**changes: Any) -> CloudEvent[CallRecorded]:
    data = {**example_data(CallRecorded), **changes}
    payload = CallRecorded.model_validate(data)
    return CloudEvent.wrap(payload, source="/services/inference", tenant_id="acme", key_id="key-7")


@pytest.fixture
def pricer(book: PriceBook) -> Pricer:
    return Pricer(book, TokenCounter(), "/services/cost", lambda: NOW)


def test_a_call_with_usage_is_priced_with_the_catalog(pricer: Pricer) -> None:
    usage = {"prompt_tokens": 1200, "completion_tokens": 80, "total_tokens": 1280, "cached_prompt_tokens": 1024}
    event = pricer.price(_call(usage=usage))
    cost = event.data
    assert (cost.pricing, cost.price_source, cost.catalog_version) == ("priced", "catalog", "litellm-1.108.7")
    assert cost.cost == Decimal("0.000151200000")
    assert (cost.prompt_name, cost.prompt_version, cost.key_id) == ("support-answer", 3, "key-7")
    assert not cost.tokens_estimated


def test_grouping_fields_come_from_the_call(pricer: Pricer) -> None:
    experiment = {"experiment_id": "exp-tone", "variant": "concise"}
    cost = pricer.price(_call(experiment=experiment)).data
    assert (cost.experiment_id, cost.variant) == ("exp-tone", "concise")


def test_a_call_without_usage_is_counted_offline_and_marked_an_estimate(pricer: Pricer) -> None:
    cost = pricer.price(_call(usage=None)).data
    assert cost.tokens_estimated
    assert cost.prompt_tokens > 10 and cost.completion_tokens > 0
    assert cost.pricing == "priced"


def test_an_unknown_model_is_unpriced_never_guessed(pricer: Pricer) -> None:
    cost = pricer.price(_call(model="made-up-model-9")).data
    assert (cost.pricing, cost.cost) == ("unpriced", None)
    assert cost.unpriced_reason is not None and "made-up-model-9" in cost.unpriced_reason
    assert cost.amount == Decimal(0)


def test_a_self_hosted_model_is_priced_per_gpu_second(pricer: Pricer) -> None:
    cost = pricer.price(_call(model="opticks-gpt2", provider="triton", latency_ms=2000.0)).data
    assert cost.gpu_seconds == 2.0
    assert cost.cost == Decimal("0.001388888888")


def test_pricing_a_call_twice_is_the_same_event(pricer: Pricer) -> None:
    call = _call()
    first, second = pricer.price(call), pricer.price(call)
    assert first.id == second.id == cost_event_id("acme", call.data.call_id)
    assert first.time == second.time == call.data.started_at
    assert cost_event_id("globex", call.data.call_id) != first.id


async def test_a_batch_is_published_on_the_cost_topic(pricer: Pricer) -> None:
    out = InMemoryPublisher()
    await price_calls([_call(call_id=f"c-{i}") for i in range(3)], pricer, out)
    costs = out.of(CostRecorded)
    assert [c.call_id for c in costs] == ["c-0", "c-1", "c-2"]
    assert {p.topic for p in out.published} == {"llmops.costs.recorded"}


def test_a_v1_cost_is_upcast_to_a_priced_v2() -> None:
    from llmops_schemas.registry import parse_event
    from llmops_schemas.v1 import CostRecorded as CostV1

    old = CloudEvent.wrap(CostV1.model_validate(example_data(CostV1)), source="/services/cost", tenant_id="acme")
    new = parse_event(old.to_json_bytes())
    assert isinstance(new.data, CostRecorded)
    assert (new.data.pricing, new.data.cost, new.id) == ("priced", old.data.cost, old.id)


def test_the_trusted_payload_equals_the_validated_one(book: PriceBook) -> None:
    """The fast path constructs payloads without validation: it must build exactly what validation accepts."""
    fast = Pricer(book, TokenCounter(), "/services/cost", lambda: NOW)
    checked = Pricer(book, TokenCounter(), "/services/cost", lambda: NOW, trusted=False)
    usage = {"prompt_tokens": 1200, "completion_tokens": 80, "total_tokens": 1280, "cached_prompt_tokens": 1024}
    calls = [
        _call(usage=usage), _call(usage=None), _call(model="made-up-model-9"),
        _call(model="opticks-gpt2", provider="triton", latency_ms=1234.5),
        _call(experiment={"experiment_id": "exp-1", "variant": "b"}, prompt=None, user_id=None),
    ]  # fmt: skip
    for call in calls:
        trusted, validated = fast.price(call), checked.price(call)
        assert trusted.to_json_bytes() == validated.to_json_bytes()
        assert CostRecorded.model_validate_json(trusted.data.model_dump_json()) == validated.data


def test_a_call_read_by_the_struct_is_priced_as_the_pydantic_one(pricer: Pricer) -> None:
    """The consumer reads calls with the derived msgspec struct; the cost must be byte for byte the same."""
    from llmops_cost.entrypoints.consumer import decode_call, read_call
    from llmops_kit.kafka.messages import ConsumedMessage

    usage = {"prompt_tokens": 1200, "completion_tokens": 80, "total_tokens": 1280, "cached_prompt_tokens": 1024}
    for call in (_call(usage=usage), _call(usage=None), _call(model="nope"), _call(trace_id=None)):
        message = ConsumedMessage("llmops.calls.recorded", 0, 0, b"acme", call.to_json_bytes(), (), 0)
        struct = read_call(message)
        assert not isinstance(struct, CloudEvent)
        assert pricer.price(struct).to_json_bytes() == pricer.price(decode_call(message)).to_json_bytes()
