"""The payload models: examples are valid, bad data is refused, producers strict, consumers tolerant.

The checks that hold for every payload run over every registered type (v1 and v2); the call contract's v2
specifics are in test_call_v2.py.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from llmops_schemas.envelope import EVENT_TYPE_PATTERN, CloudEvent, EventPayload
from llmops_schemas.registry import EVENT_TYPES
from llmops_schemas.v1 import (
    AlertRuleConfigured,
    AlertStateChanged,
    ApiKeyStateChanged,
    AuditChainHead,
    AuditRecorded,
    BudgetConfigured,
    BudgetStateChanged,
    CallRecorded,
    CompactedPayload,
    CostRecorded,
    DatasetExampleAdded,
    DatasetVersionCreated,
    DriftReported,
    ErasureProcessed,
    ErasureRequested,
    EvaluationScored,
    EvaluatorConfigured,
    ExperimentConfigured,
    FeedbackReceived,
    JudgeMonitorConfigured,
    NotifierConfigured,
    ObjectiveConfigured,
    PolicyPublished,
    PricePublished,
    PromptLabelMoved,
    PromptVersionPublished,
    ReplayCheckpointed,
    ReviewItemUpdated,
    ReviewQueueConfigured,
    RunUpdated,
    SilenceSet,
    VerdictPolicySet,
)
from llmops_schemas.v1.audit import GENESIS_HASH
from llmops_schemas.v1.examples import EXAMPLES, example, example_data
from llmops_schemas.v2 import AlertRuleConfigured as AlertRuleConfiguredV2
from llmops_schemas.v2 import NotificationQueued
from llmops_schemas.v2 import PolicyPublished as PolicyPublishedV2
from pydantic import BaseModel, ValidationError

STREAM_TOPICS = {
    "llmops.calls.raw",
    "llmops.calls.recorded",
    "llmops.evaluations.scored",
    "llmops.feedback.received",
    "llmops.drift.reports",
    "llmops.costs.recorded",
    "llmops.budgets.events",
    "llmops.audit.records",
    "llmops.audit.chain",
    "llmops.audit.digests",
    "llmops.alerts",
    "llmops.erasure.requests",
    "llmops.erasure.receipts",
}
COMPACTED_TOPICS = {
    "llmops.prompts.versions",
    "llmops.audit.heads",
    "llmops.experiments",
    "llmops.policies",
    "llmops.prices",
    "llmops.budgets.config",
    "llmops.evaluations.config",
    "llmops.review.queues",
    "llmops.review.items",
    "llmops.evaluations.policies",
    "llmops.evaluations.datasets",
    "llmops.evaluations.runs",
    "llmops.drift.judges",
    "llmops.evaluations.replays",
    "llmops.alerting.config",
    "llmops.alerting.outbox",
    "llmops.governance.keys",
}

PAYLOADS = tuple(EVENT_TYPES.values())
ids = [cls.event_type for cls in PAYLOADS]
payloads = pytest.mark.parametrize("cls", PAYLOADS, ids=ids)


def nested_models(cls: type[BaseModel]) -> set[type[BaseModel]]:
    """``cls`` and every model reachable from its fields."""
    found: set[type[BaseModel]] = set()

    def visit(tp: Any) -> None:
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            if tp not in found:
                found.add(tp)
                for field in tp.model_fields.values():
                    visit(field.annotation)
            return
        for arg in getattr(tp, "__args__", ()):
            visit(arg)
        if hasattr(tp, "__origin__"):
            visit(tp.__origin__)

    visit(cls)
    return found


# --- every payload ----------------------------------------------------------------------------------


def test_every_payload_has_an_example() -> None:
    assert set(EXAMPLES) == set(PAYLOADS)
    assert len({cls.event_type for cls in PAYLOADS}) == len(PAYLOADS)


@payloads
def test_event_type_and_topic(cls: type[EventPayload]) -> None:
    assert re.fullmatch(EVENT_TYPE_PATTERN, cls.event_type)
    assert cls.event_type.rsplit(".", 1)[1] in ("v1", "v2")
    expected = COMPACTED_TOPICS if issubclass(cls, CompactedPayload) else STREAM_TOPICS
    assert cls.topic in expected, f"{cls.__name__} publishes to {cls.topic}, not a {expected} topic"


@payloads
def test_every_model_is_documented_and_frozen(cls: type[EventPayload]) -> None:
    for model in nested_models(cls):
        assert model.__doc__ and model.__doc__.strip(), f"{model.__name__} has no docstring"
        assert model.model_config.get("frozen") is True, f"{model.__name__} is not frozen"
        assert model.model_config.get("extra") == "forbid", f"{model.__name__} is not strict"


@payloads
def test_example_is_valid_and_round_trips(cls: type[EventPayload]) -> None:
    payload = example(cls)
    assert cls.model_validate_json(payload.model_dump_json()) == payload
    assert cls.model_validate(payload.model_dump(mode="json")) == payload


@payloads
def test_an_event_serialises_as_its_json_dump(cls: type[EventPayload]) -> None:
    # to_json_bytes takes the serialiser's bytes directly: the same bytes as the dump, aliases and all
    event = CloudEvent.wrap(example(cls), source="/tests", tenant_id="acme", trace_id="t" * 32, key_id="key-1")
    assert event.to_json_bytes() == event.model_dump_json(by_alias=True, exclude_none=True).encode()
    assert b'"tenantid":"acme"' in event.to_json_bytes() and b":null" not in event.to_json_bytes()


@payloads
def test_producer_rejects_unknown_field_consumer_ignores_it(cls: type[EventPayload]) -> None:
    data = {**example_data(cls), "added_in_a_later_release": 1}
    with pytest.raises(ValidationError, match="added_in_a_later_release"):
        cls.model_validate(data)
    assert cls.tolerant(data) == example(cls)


@payloads
def test_payload_is_frozen(cls: type[EventPayload]) -> None:
    payload = example(cls)
    name = next(iter(cls.model_fields))
    with pytest.raises(ValidationError, match="frozen"):
        setattr(payload, name, getattr(payload, name))


@payloads
def test_every_required_field_is_required(cls: type[EventPayload]) -> None:
    required = [name for name, field in cls.model_fields.items() if field.is_required()]
    assert required, f"{cls.__name__} requires nothing"
    for name in required:
        data = example_data(cls)
        data.pop(name, None)
        with pytest.raises(ValidationError, match=name):
            cls.model_validate(data)


def test_naive_timestamps_are_refused() -> None:
    data = example_data(ErasureRequested)
    data["requested_at"] = "2025-03-14T09:26:53"
    with pytest.raises(ValidationError, match="timezone"):
        ErasureRequested.model_validate(data)


# --- invalid examples, model by model -------------------------------------------------------------

INVALID: list[tuple[type[EventPayload], dict[str, Any], str]] = [
    (CallRecorded, {"status": "error"}, "needs an 'error' object"),
    (CallRecorded, {"messages": []}, "at least 1 item"),
    (EvaluationScored, {"score": 1.5}, "above score_max"),
    (EvaluationScored, {"score": float("nan"), "score_min": None, "score_max": None}, "finite number"),
    (
        EvaluationScored,
        {"evaluator": {"name": "x", "version": "1", "kind": "heuristic", "judge_model": "m"}},
        "llm_judge",
    ),
    (EvaluationScored, {"evaluator": {"name": "x", "version": "1", "kind": "robot"}}, "kind"),
    (EvaluationScored, {"call_id": "has space"}, "pattern"),
    (EvaluationScored, {"explanation": "x" * 16_385}, "at most 16384"),
    (FeedbackReceived, {"kind": "thumbs", "value": 0.5}, "value 1 \\(up\\) or 0"),
    (FeedbackReceived, {"kind": "rating", "value": 4.5}, "whole value"),
    (FeedbackReceived, {"kind": "rating", "value": None}, "whole value"),
    (FeedbackReceived, {"kind": "rating", "value": 6}, "less than or equal to 5"),
    (FeedbackReceived, {"kind": "correction", "value": None}, "corrected output"),
    (FeedbackReceived, {"kind": "comment", "value": None, "comment": "  "}, "non-empty"),
    (FeedbackReceived, {"kind": "comment", "value": 1, "comment": "hi"}, "carries no value"),
    (FeedbackReceived, {"correction": "better answer"}, "only correction"),
    (DriftReported, {"window": {"start": "2025-03-14T00:00:00Z", "end": "2025-03-14T00:00:00Z"}}, "before its end"),
    (DriftReported, {"value": -0.1}, "greater than or equal to 0"),
    (DriftReported, {"p_value": 1.5}, "less than or equal to 1"),
    (DriftReported, {"statistic": "vibes"}, "statistic"),
    (DriftReported, {"sample_size": -1}, "greater than or equal to 0"),
    (CostRecorded, {"cost": 0.5}, "never a number"),
    (CostRecorded, {"cost": "-1"}, "string of digits"),
    (CostRecorded, {"cost": "1e-3"}, "string of digits"),
    (CostRecorded, {"cost": "0.0000000000001"}, "string of digits"),
    (CostRecorded, {"currency": "usd"}, "pattern"),
    (CostRecorded, {"currency": "DOLLAR"}, "pattern"),
    (CostRecorded, {"cached_prompt_tokens": 25}, "cannot exceed prompt_tokens"),
    (CostRecorded, {"prompt_tokens": -1}, "greater than or equal to 0"),
    (BudgetConfigured, {"thresholds": [0.8, 0.5]}, "strictly ascending"),
    (BudgetConfigured, {"thresholds": [0.5, 1.5]}, "less than or equal to 1"),
    (BudgetConfigured, {"scope": {"kind": "tenant", "value": "x"}}, "tenant scope has no value"),
    (BudgetConfigured, {"scope": {"kind": "app"}}, "every other scope needs one"),
    (BudgetConfigured, {"version": 0}, "greater than or equal to 1"),
    (BudgetStateChanged, {"kind": "exceeded", "threshold": None}, "spent >= limit"),
    (BudgetStateChanged, {"threshold": None}, "threshold_crossed"),
    (BudgetStateChanged, {"kind": "reset"}, "threshold_crossed"),
    (PricePublished, {"provider": "open/ai"}, "pattern"),
    (PricePublished, {"input_price_per_mtok": "1000000000000000000"}, "string of digits"),
    (PricePublished, {"input_price_per_mtok": Decimal(10**18)}, "less than"),
    (PricePublished, {"input_price_per_mtok": Decimal("0.0000000000001")}, "decimal places"),
    (PricePublished, {"input_price_per_mtok": Decimal("NaN")}, "finite"),
    (PricePublished, {"effective_from": "2024-07-18T00:00:00"}, "timezone"),
    (AuditRecorded, {"hash": "AB" * 32}, "pattern"),
    (AuditRecorded, {"prev_hash": "0" * 63}, "pattern"),
    (AuditRecorded, {"ip": "not-an-ip"}, "IP"),
    (AuditRecorded, {"sequence": -1}, "greater than or equal to 0"),
    (AuditRecorded, {"actor": {"type": "robot", "id": "r2"}}, "type"),
    (AuditRecorded, {"outcome": "maybe"}, "outcome"),
    (AlertStateChanged, {"status": "resolved"}, "needs ends_at"),
    (AlertStateChanged, {"ends_at": "2025-03-14T10:00:00Z"}, "firing alert has no ends_at"),
    (AlertStateChanged, {"status": "resolved", "ends_at": "2025-03-14T08:00:00Z"}, "before starts_at"),
    (AlertStateChanged, {"summary": ""}, "at least 1 character"),
    (AlertStateChanged, {"severity": "apocalyptic"}, "severity"),
    (ErasureRequested, {"subject_type": "email"}, "subject_type"),
    (ErasureRequested, {"reason": ""}, "at least 1 character"),
    (ErasureProcessed, {"status": "failed"}, "exactly when status is 'failed'"),
    (ErasureProcessed, {"error": "disk full"}, "exactly when status is 'failed'"),
    (ErasureProcessed, {"rows_affected": -3}, "greater than or equal to 0"),
    (PromptVersionPublished, {"variables": [{"name": "shop"}]}, "undeclared variables: question"),
    (PromptVersionPublished, {"variables": [{"name": "shop"}, {"name": "shop"}, {"name": "question"}]}, "unique"),
    (PromptVersionPublished, {"variables": [{"name": "9lives"}, {"name": "shop"}, {"name": "question"}]}, "pattern"),
    (PromptVersionPublished, {"version": 0}, "greater than or equal to 1"),
    (PromptVersionPublished, {"parent": {"name": "support-answer", "version": 3}}, "must be older"),
    (PromptVersionPublished, {"labels": ["production", "production"]}, "labels must be unique"),
    (PromptVersionPublished, {"name": "support@answer"}, "pattern"),
    (PromptVersionPublished, {"template": []}, "at least 1 item"),
    (PromptVersionPublished, {"template": [{"role": "tool", "content": "x"}]}, "role"),
    (
        ExperimentConfigured,
        {"variants": [{"name": "mini", "weight": 0.5}, {"name": "full", "weight": 0.4}]},
        "sum to 1",
    ),
    (
        ExperimentConfigured,
        {"variants": [{"name": "a", "weight": 0.5}, {"name": "full", "weight": 0.5}]},
        "control 'mini' is not one of the variants",
    ),
    (ExperimentConfigured, {"variants": [{"name": "mini", "weight": 0.5}, {"name": "mini", "weight": 0.5}]}, "unique"),
    (ExperimentConfigured, {"variants": [{"name": "mini", "weight": 1.0}]}, "at least 2 items"),
    (ExperimentConfigured, {"kind": "bandit"}, "kind"),
    (ExperimentConfigured, {"ends_at": "2025-03-14T09:00:00Z"}, "after starts_at"),
    (PolicyPublished, {"kind": "retention"}, "do not belong to a 'retention' policy"),
    (PolicyPublished, {"settings": {"kind": "rate_limit"}}, "does not match any of the expected tags"),
    (PolicyPublished, {"kind": "retention", "settings": {"kind": "retention", "dataset": "calls", "days": 0}}, "days"),
    (
        PolicyPublished,
        {"kind": "rbac_role", "settings": {"kind": "rbac_role", "role": "x", "permissions": ["all"]}},
        "pattern",
    ),
    (PolicyPublished, {"settings": {"kind": "pii_redaction", "entities": []}}, "at least 1 item"),
]


@pytest.mark.parametrize(
    ("cls", "change", "message"),
    INVALID,
    ids=[f"{cls.__name__}-{i}" for i, (cls, _, _) in enumerate(INVALID)],
)
def test_invalid_data_is_refused(cls: type[EventPayload], change: dict[str, Any], message: str) -> None:
    data = {**example_data(cls), **change}
    with pytest.raises(ValidationError, match=message):
        cls.model_validate(data)


VALID_VARIANTS: list[tuple[type[EventPayload], dict[str, Any]]] = [
    (FeedbackReceived, {"kind": "thumbs", "value": 0}),
    (FeedbackReceived, {"kind": "correction", "value": None, "correction": "It ships tomorrow."}),
    (FeedbackReceived, {"kind": "comment", "value": None, "comment": "Rude."}),
    (EvaluationScored, {"evaluator": {"name": "len", "version": "2", "kind": "heuristic"}, "score_max": None}),
    (BudgetStateChanged, {"kind": "exceeded", "threshold": None, "spent": "500.00"}),
    (BudgetStateChanged, {"kind": "reset", "threshold": None, "spent": "0"}),
    (BudgetConfigured, {"scope": {"kind": "tenant"}, "thresholds": []}),
    (AlertStateChanged, {"status": "resolved", "ends_at": "2025-03-14T11:00:00+01:00"}),
    (ErasureProcessed, {"status": "failed", "error": "ClickHouse unavailable", "rows_affected": 0}),
    (
        ExperimentConfigured,
        {"kind": "shadow", "variants": [{"name": "mini", "weight": 0.7}, {"name": "b", "weight": 0.3}]},
    ),
    (PolicyPublished, {"kind": "retention", "settings": {"kind": "retention", "dataset": "calls", "days": 30}}),
    (
        PolicyPublished,
        {
            "kind": "rbac_role",
            "settings": {"kind": "rbac_role", "role": "viewer", "permissions": ["calls:read", "*:*"]},
        },
    ),
    (PromptVersionPublished, {"parent": {"name": "other-prompt", "version": 9}}),
    (AuditRecorded, {"ip": "2001:db8::1"}),
]


@pytest.mark.parametrize(("cls", "change"), VALID_VARIANTS, ids=[c.__name__ for c, _ in VALID_VARIANTS])
def test_valid_variants_are_accepted(cls: type[EventPayload], change: dict[str, Any]) -> None:
    cls.model_validate({**example_data(cls), **change})


# --- behaviour --------------------------------------------------------------------------------------


def test_amounts_are_decimal_strings_on_the_wire() -> None:
    cost = example(CostRecorded).model_copy(update={"cost": Decimal("1E-7")})
    assert cost.model_dump(mode="json")["cost"] == "0.0000001"
    assert cost.model_dump()["cost"] == Decimal("1E-7")
    assert isinstance(example(CostRecorded).cost, Decimal)
    # A JSON number would be rounded somewhere along the way: refused even where the value is exact.
    data = {**example_data(CostRecorded), "prompt_tokens": 24, "cost": 1}
    with pytest.raises(ValidationError, match="never a number"):
        CostRecorded.model_validate(data)


def test_amount_survives_json_round_trip_exactly() -> None:
    for text in ("0", "0.000000000001", "999999999999999999.999999999999", "12.50"):
        price = PricePublished.model_validate({**example_data(PricePublished), "input_price_per_mtok": text})
        back = PricePublished.model_validate_json(price.model_dump_json())
        assert back.input_price_per_mtok == Decimal(text)
        assert price.model_dump(mode="json")["input_price_per_mtok"] == text


def test_audit_chain_links_and_detects_tampering() -> None:
    at = datetime(2025, 3, 14, tzinfo=UTC)
    fields: dict[str, Any] = {
        "actor": {"type": "service", "id": "gateway"},
        "action": "policy.update",
        "resource": {"type": "policy", "id": "pii-default"},
    }
    first = AuditRecorded.chained(None, **fields, outcome="success", occurred_at=at)
    second = AuditRecorded.chained(first, **fields, outcome="success", occurred_at=at + timedelta(seconds=1))
    third = AuditRecorded.chained(second, **fields, outcome="denied", occurred_at=at + timedelta(seconds=2))
    assert (first.sequence, first.prev_hash) == (0, GENESIS_HASH)
    assert (second.sequence, second.prev_hash) == (1, first.hash)
    assert re.fullmatch("[0-9a-f]{64}", third.hash)
    assert first.verify(None) and second.verify(first) and third.verify(second)

    tampered = second.model_copy(update={"outcome": "failure"})
    assert not tampered.verify(first)
    assert not third.verify(first), "skipping an entry must break the chain"
    assert not second.verify(third), "reordering must break the chain"
    forged = tampered.model_copy(update={"hash": tampered.expected_hash()})
    assert forged.verify(first) and not third.verify(forged), "a re-hashed forgery breaks the next link"

    # The example's hash is what the chain gives, and survives the trip over the wire.
    wire = AuditRecorded.model_validate_json(example(AuditRecorded).model_dump_json(exclude_none=True))
    assert wire.verify(None)


def test_audit_hash_ignores_fields_at_their_default() -> None:
    entry = example(AuditRecorded)
    without_optional = AuditRecorded.model_validate(
        {k: v for k, v in example_data(AuditRecorded).items() if k not in ("request_id", "ip")}
    )
    assert without_optional.expected_hash() == without_optional.model_copy(update={"ip": None}).expected_hash()
    assert without_optional.expected_hash() != entry.expected_hash()


def test_prompt_render_and_placeholders() -> None:
    prompt = example(PromptVersionPublished)
    assert prompt.placeholders() == ["shop", "question"]
    messages = prompt.render({"question": "Where is {{ shop }}?"})
    assert [m.content for m in messages] == [
        "You answer questions about orders for Acme.",
        "Where is {{ shop }}?",
    ]
    assert prompt.render({"question": "q", "shop": "Globex"})[0].content.endswith("for Globex.")
    with pytest.raises(KeyError, match="question"):
        prompt.render({})
    with pytest.raises(ValueError, match="undeclared variables: colour"):
        prompt.render({"question": "q", "colour": "red"})
    assert prompt.entity_key() == "support-answer:3"
    assert prompt.ref().version == 3


def test_entity_keys_of_compacted_payloads() -> None:
    assert example(PolicyPublished).entity_key() == "pii-default"
    assert example(ExperimentConfigured).entity_key() == "exp-mini-vs-4o"
    assert example(BudgetConfigured).entity_key() == "budget-support-monthly"
    assert example(EvaluatorConfigured).entity_key() == "answer-length"
    assert example(ReviewQueueConfigured).entity_key() == "low-relevance"
    assert example(ReviewItemUpdated).entity_key() == "low-relevance:call-01J9Z3Q4XK"
    assert example(VerdictPolicySet).entity_key() == "exp-mini-vs-4o"
    assert example(JudgeMonitorConfigured).entity_key() == "support-judge"
    assert example(ReplayCheckpointed).entity_key() == "rp-length-v2"
    assert example(ApiKeyStateChanged).entity_key() == "k-3f9a1c2e7b4d8a60"
    assert example(AuditChainHead).entity_key() == "chain"
    assert example(PricePublished).entity_key() == "openai:gpt-4o-mini:2024-07-18T00:00:00Z"
    moved = PricePublished.model_validate(
        {**example_data(PricePublished), "effective_from": "2024-07-18T02:00:00+02:00"}
    )
    assert moved.entity_key() == example(PricePublished).entity_key()
    compacted = {cls for cls in PAYLOADS if issubclass(cls, CompactedPayload)}
    assert compacted == {
        ApiKeyStateChanged,
        AuditChainHead,
        PolicyPublished,
        ExperimentConfigured,
        BudgetConfigured,
        PricePublished,
        PromptVersionPublished,
        PromptLabelMoved,
        EvaluatorConfigured,
        ReviewQueueConfigured,
        ReviewItemUpdated,
        VerdictPolicySet,
        JudgeMonitorConfigured,
        DatasetExampleAdded,
        DatasetVersionCreated,
        RunUpdated,
        ReplayCheckpointed,
        AlertRuleConfigured,
        ObjectiveConfigured,
        SilenceSet,
        NotifierConfigured,
        NotificationQueued,
        AlertRuleConfiguredV2,
        PolicyPublishedV2,
    }
    assert example(AlertRuleConfigured).entity_key() == "rule:error-rate-support-bot"
    assert example(NotificationQueued).entity_key() == "pagerduty-oncall:0195ef4c-2e4d-7c1a-8e11-6c7d8e9f0a1c"
    assert example(DatasetVersionCreated).entity_key() == "support-faq:3"
    assert example(DatasetExampleAdded).entity_key() == "support-faq:3:5d41402abc4b:parcel-where"


def test_experiment_variant_lookup() -> None:
    experiment = example(ExperimentConfigured)
    assert experiment.variant("full").model == "gpt-4o"
    with pytest.raises(KeyError, match="no variant 'nope'"):
        experiment.variant("nope")


BOUNDED_PATTERNS = {r"^[A-Z]{3}$", r"^[0-9a-f]{64}$", r"^[0-9]{1,18}(\.[0-9]{1,12})?$"}


@payloads
def test_strings_lists_and_maps_are_bounded(cls: type[EventPayload]) -> None:
    """Every string, array and map of a payload has a size limit, so no event can grow without bound."""
    unbounded: list[str] = []

    def walk(schema: Any, path: str) -> None:
        if isinstance(schema, dict):
            kind = schema.get("type")
            if kind == "string" and not (
                "maxLength" in schema
                or "enum" in schema
                or "const" in schema
                or schema.get("format") in ("date-time", "ipvanyaddress")
                or schema.get("pattern") in BOUNDED_PATTERNS
            ):
                unbounded.append(f"{path} (string)")
            if kind == "array" and "maxItems" not in schema:
                unbounded.append(f"{path} (array)")
            is_map = kind == "object" and isinstance(schema.get("additionalProperties"), dict)
            if is_map and "maxProperties" not in schema:
                unbounded.append(f"{path} (map)")
            for key, value in schema.items():
                walk(value, f"{path}/{key}")
        elif isinstance(schema, list):
            for i, item in enumerate(schema):
                walk(item, f"{path}/{i}")

    walk(cls.model_json_schema(), "#")
    assert not unbounded, f"{cls.__name__} has unbounded values: {unbounded}"


def test_an_erasure_request_v2_takes_an_email_with_a_plus_and_a_v1_request_upcasts_unchanged() -> None:
    from llmops_schemas.v1 import erasure as v1_erasure
    from llmops_schemas.v2 import erasure as v2_erasure

    request = v2_erasure.ErasureRequested.model_validate(example_data(v2_erasure.ErasureRequested))
    assert "+" in request.subject_value
    old = v1_erasure.ErasureRequested.model_validate(example_data(v1_erasure.ErasureRequested))
    assert v2_erasure.ErasureRequested.from_v1(old).model_dump() == old.model_dump()
    with pytest.raises(ValidationError, match="pattern"):
        bad = {**example_data(v2_erasure.ErasureRequested), "subject_value": "a\nb"}
        v2_erasure.ErasureRequested.model_validate(bad)


def test_an_erasure_receipt_v2_sums_its_counts_and_a_v1_receipt_counts_under_its_service() -> None:
    from llmops_schemas.v1 import erasure as v1_erasure
    from llmops_schemas.v2 import erasure as v2_erasure

    data = example_data(v2_erasure.ErasureProcessed)
    with pytest.raises(ValidationError, match="sum of counts"):
        v2_erasure.ErasureProcessed.model_validate({**data, "rows_affected": data["rows_affected"] + 1})
    old = v1_erasure.ErasureProcessed.model_validate(example_data(v1_erasure.ErasureProcessed))
    upcast = v2_erasure.ErasureProcessed.from_v1(old)
    assert upcast.counts == {old.service: old.rows_affected} and upcast.rows_affected == old.rows_affected
