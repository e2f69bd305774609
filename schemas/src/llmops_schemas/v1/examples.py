"""One valid payload per v1 event type, as it appears on the wire (JSON-compatible values).

Used by the tests of every service, embedded as ``examples`` in the committed JSON Schemas, and shown
in docs/events.md. Each example is a complete, realistic record; change them only compatibly.
"""

from __future__ import annotations

import copy
from typing import Any, TypeVar

from llmops_schemas.envelope import EventPayload
from llmops_schemas.ids import deterministic_uuid7
from llmops_schemas.v1.alerting import AlertRuleConfigured, NotifierConfigured, ObjectiveConfigured, SilenceSet
from llmops_schemas.v1.alerts import AlertStateChanged
from llmops_schemas.v1.audit import GENESIS_HASH, AuditRecorded
from llmops_schemas.v1.audit_chain import AuditChained, AuditChainHead, AuditDigest, chain_entry, link_hash
from llmops_schemas.v1.calls import CallRecorded
from llmops_schemas.v1.cost import BudgetConfigured, BudgetStateChanged, CostRecorded, PricePublished
from llmops_schemas.v1.drift import DriftReported
from llmops_schemas.v1.erasure import ErasureProcessed, ErasureRequested
from llmops_schemas.v1.evaluation import EvaluationScored, EvaluatorConfigured
from llmops_schemas.v1.experiments import ExperimentConfigured
from llmops_schemas.v1.feedback import FeedbackReceived
from llmops_schemas.v1.governance import PolicyPublished
from llmops_schemas.v1.judge_monitors import JudgeMonitorConfigured
from llmops_schemas.v1.keys import ApiKeyStateChanged
from llmops_schemas.v1.prompt_labels import PromptLabelMoved
from llmops_schemas.v1.prompts import PromptVersionPublished
from llmops_schemas.v1.replay import ReplayCheckpointed
from llmops_schemas.v1.review import ReviewItemUpdated, ReviewQueueConfigured
from llmops_schemas.v1.runs import DatasetExampleAdded, DatasetVersionCreated, RunUpdated
from llmops_schemas.v1.verdict_policies import VerdictPolicySet
from llmops_schemas.v2 import calls as v2_calls
from llmops_schemas.v2.examples import EXAMPLES as LATER_EXAMPLES

__all__ = ["ENVELOPE_EXAMPLE", "EXAMPLES", "example", "example_data"]

P = TypeVar("P", bound=EventPayload)

_AT = "2025-03-14T09:26:53Z"
_CALL = "call-01J9Z3Q4XK"

_AUDIT_FIELDS: dict[str, Any] = {
    "actor": {"type": "user", "id": "alice@example.com"},
    "action": "prompt.publish",
    "resource": {"type": "prompt", "id": "support-answer"},
    "outcome": "success",
    "request_id": "req-7f3a",
    "ip": "203.0.113.7",
    "details": {"version": 3, "labels": ["production"]},
    "occurred_at": _AT,
}

_CHAIN_ENTRY = chain_entry(
    tenant_id="acme",
    sequence=0,
    record_id="0195940d-1a28-7c3e-9f41-2b6d8e0a4c71",
    source="/services/inference",
    record={k: v for k, v in _AUDIT_FIELDS.items() if k != "ip"},
)
_CHAIN_HASH = link_hash(GENESIS_HASH, _CHAIN_ENTRY)

_DATASET_DIGEST = "5d41402abc4b2a76b9719d911017c592ae2b9c5e1f2d3c4b5a69788796a5b4c3"

EXAMPLES: dict[type[EventPayload], dict[str, Any]] = {
    CallRecorded: {
        "call_id": _CALL,
        "app": "support-bot",
        "model": "gpt-4o-mini",
        "provider": "openai",
        "user_id": "user-42",
        "messages": [
            {"role": "system", "content": "You answer questions about orders."},
            {"role": "user", "content": "Where is my parcel?"},
        ],
        "output": "It left the warehouse this morning.",
        "finish_reason": "stop",
        "parameters": {"temperature": 0.2, "max_tokens": 256},
        "usage": {"prompt_tokens": 24, "completion_tokens": 9, "total_tokens": 33},
        "started_at": _AT,
        "latency_ms": 812.5,
        "prompt": {"name": "support-answer", "version": 3, "label": "production"},
        "tags": ["checkout"],
    },
    EvaluationScored: {
        "evaluation_id": "eval-relevance-1-call-01J9Z3Q4XK",
        "call_id": _CALL,
        "app": "support-bot",
        "evaluator": {"name": "relevance", "version": "1", "kind": "llm_judge", "judge_model": "gpt-4o"},
        "metric": "relevance",
        "score": 0.85,
        "score_min": 0,
        "score_max": 1,
        "label": "relevant",
        "passed": True,
        "explanation": "The answer addresses the parcel's whereabouts.",
        "judged_at": _AT,
    },
    EvaluatorConfigured: {
        "name": "answer-length",
        "kind": "length",
        "params": {"min_chars": 1, "max_chars": 2000},
        "app": "support-bot",
        "sampling_rate": 0.5,
        "updated_at": _AT,
    },
    VerdictPolicySet: {
        "experiment_id": "exp-mini-vs-4o",
        "promote": True,
        "rollback": True,
        "updated_by": "admin-key-1",
        "updated_at": _AT,
    },
    ReplayCheckpointed: {
        "replay_id": "rp-length-v2",
        "evaluators": [
            {"name": "answer-length", "kind": "length", "params": {"max_chars": 1500}, "version": "1+5b0c2f1e9a77"}
        ],
        "source": "warehouse",
        "start": "2025-03-13T00:00:00Z",
        "end": "2025-03-14T00:00:00Z",
        "app": "support-bot",
        "rate_limit_per_s": 2000,
        "batch_size": 500,
        "status": "running",
        "processed": 1500,
        "scored": 1480,
        "cursor": "eyJ0cyI6MTc0MTk0NDAwMDAwMH0",
        "created_at": _AT,
        "updated_at": _AT,
    },
    FeedbackReceived: {
        "feedback_id": "fb-9a1c",
        "call_id": _CALL,
        "kind": "rating",
        "value": 4,
        "comment": "Helpful, a bit vague.",
        "user_id": "user-42",
        "source": "widget",
        "given_at": _AT,
    },
    DriftReported: {
        "report_id": "drift-support-bot-latency-2025-03-14",
        "app": "support-bot",
        "model": "gpt-4o-mini",
        "feature": "latency_ms",
        "statistic": "psi",
        "value": 0.31,
        "threshold": 0.2,
        "drifted": True,
        "window": {"start": "2025-03-13T00:00:00Z", "end": "2025-03-14T00:00:00Z"},
        "baseline": {"start": "2025-03-01T00:00:00Z", "end": "2025-03-08T00:00:00Z"},
        "sample_size": 12840,
        "baseline_sample_size": 90211,
        "computed_at": _AT,
    },
    CostRecorded: {
        "call_id": _CALL,
        "app": "support-bot",
        "user_id": "user-42",
        "model": "gpt-4o-mini",
        "provider": "openai",
        "prompt_tokens": 24,
        "completion_tokens": 9,
        "input_price_per_mtok": "0.15",
        "output_price_per_mtok": "0.6",
        "cost": "0.0000090",
        "currency": "USD",
        "price_effective_from": "2024-07-18T00:00:00Z",
        "call_started_at": _AT,
        "recorded_at": _AT,
    },
    BudgetConfigured: {
        "budget_id": "budget-support-monthly",
        "name": "Support bot, monthly",
        "scope": {"kind": "app", "value": "support-bot"},
        "period": "monthly",
        "limit": "500.00",
        "currency": "USD",
        "thresholds": [0.5, 0.8, 1.0],
        "action": "alert",
        "version": 2,
        "updated_by": "alice@example.com",
        "updated_at": _AT,
    },
    BudgetStateChanged: {
        "budget_id": "budget-support-monthly",
        "scope": {"kind": "app", "value": "support-bot"},
        "period": "monthly",
        "period_start": "2025-03-01T00:00:00Z",
        "kind": "threshold_crossed",
        "threshold": 0.8,
        "limit": "500.00",
        "spent": "400.0172",
        "currency": "USD",
        "occurred_at": _AT,
    },
    PricePublished: {
        "provider": "openai",
        "model": "gpt-4o-mini",
        "input_price_per_mtok": "0.15",
        "output_price_per_mtok": "0.6",
        "cached_input_price_per_mtok": "0.075",
        "currency": "USD",
        "effective_from": "2024-07-18T00:00:00Z",
        "source": "https://openai.com/api/pricing/",
        "published_by": "pricing-sync",
        "published_at": _AT,
    },
    AuditRecorded: {
        **_AUDIT_FIELDS,
        "sequence": 0,
        "prev_hash": GENESIS_HASH,
        "hash": AuditRecorded.chained(None, **_AUDIT_FIELDS).hash,
    },
    AlertRuleConfigured: {
        "rule_id": "error-rate-support-bot",
        "name": "support-bot error rate",
        "kind": "metric",
        "metric": "error_rate",
        "app": "support-bot",
        "threshold": 0.05,
        "window_s": 300,
        "severity": "critical",
        "group_by": ["app"],
        "notifiers": ["pagerduty-oncall"],
        "updated_by": "key-admin",
        "updated_at": _AT,
    },
    ObjectiveConfigured: {
        "objective_id": "support-bot-latency",
        "app": "support-bot",
        "sli": "latency",
        "threshold": 2000,
        "target": 0.99,
        "window_days": 28,
        "notifiers": ["pagerduty-oncall"],
        "updated_by": "key-admin",
        "updated_at": _AT,
    },
    SilenceSet: {
        "silence_id": "maintenance-2025-03-14",
        "matchers": {"app": "support-bot"},
        "starts_at": "2025-03-14T09:00:00Z",
        "ends_at": "2025-03-14T11:00:00Z",
        "comment": "model migration",
        "updated_by": "key-admin",
        "updated_at": _AT,
    },
    NotifierConfigured: {
        "notifier_id": "pagerduty-oncall",
        "kind": "pagerduty",
        "url": "https://events.pagerduty.com/v2/enqueue",
        "secret_ref": "pagerduty-routing-key",
        "min_severity": "warning",
        "updated_by": "key-admin",
        "updated_at": _AT,
    },
    AlertStateChanged: {
        "alert_id": "budget-threshold-support-monthly",
        "rule": "budget-threshold",
        "severity": "warning",
        "status": "firing",
        "summary": "Budget 'Support bot, monthly' is 80% spent",
        "value": 0.8,
        "labels": {"app": "support-bot", "budget_id": "budget-support-monthly"},
        "starts_at": _AT,
    },
    ErasureRequested: {
        "request_id": "erasure-2025-0042",
        "subject_type": "user_id",
        "subject_value": "user-42",
        "requested_by": "dpo@example.com",
        "reason": "GDPR art. 17 request #0042",
        "requested_at": _AT,
    },
    ErasureProcessed: {
        "request_id": "erasure-2025-0042",
        "service": "warehouse",
        "status": "completed",
        "rows_affected": 137,
        "completed_at": _AT,
    },
    PromptVersionPublished: {
        "name": "support-answer",
        "version": 3,
        "template": [
            {"role": "system", "content": "You answer questions about orders for {{ shop }}."},
            {"role": "user", "content": "{{question}}"},
        ],
        "variables": [
            {"name": "shop", "description": "Shop name", "default": "Acme"},
            {"name": "question"},
        ],
        "model": "gpt-4o-mini",
        "provider": "openai",
        "parameters": {"temperature": 0.2},
        "labels": ["production"],
        "description": "Mention the shop by name.",
        "parent": {"name": "support-answer", "version": 2},
        "created_by": "alice@example.com",
        "created_at": _AT,
    },
    PromptLabelMoved: {
        "name": "support-answer",
        "label": "production",
        "version": 3,
        "history": [1, 2],
        "action": "move",
        "reason": "v3 mentions the shop by name",
        "moved_by": "alice@example.com",
        "moved_at": _AT,
    },
    ExperimentConfigured: {
        "experiment_id": "exp-mini-vs-4o",
        "name": "gpt-4o-mini vs gpt-4o",
        "app": "support-bot",
        "kind": "ab",
        "status": "running",
        "control": "mini",
        "variants": [
            {"name": "mini", "weight": 0.9, "model": "gpt-4o-mini", "provider": "openai"},
            {"name": "full", "weight": 0.1, "model": "gpt-4o", "provider": "openai"},
        ],
        "primary_metric": "relevance",
        "version": 1,
        "starts_at": _AT,
        "updated_by": "alice@example.com",
        "updated_at": _AT,
    },
    ApiKeyStateChanged: {
        "key_id": "k-3f9a1c2e7b4d8a60",
        "name": "support-bot production",
        "role": "developer",
        "sha256": "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8",
        "status": "rotated",
        "created_at": "2025-03-01T08:00:00Z",
        "expires_at": "2025-03-15T09:26:53Z",
        "rotated_to": "k-8b0e44d1c9a27f35",
        "updated_by": "k-admin-01",
        "updated_at": _AT,
    },
    PolicyPublished: {
        "policy_id": "pii-default",
        "name": "Redact contact data",
        "kind": "pii_redaction",
        "version": 1,
        "settings": {
            "kind": "pii_redaction",
            "entities": ["email", "phone", "credit_card"],
            "action": "mask",
        },
        "updated_by": "alice@example.com",
        "updated_at": _AT,
    },
    ReviewQueueConfigured: {
        "name": "low-relevance",
        "description": "Answers the judge scored under 0.5 on relevance last week",
        "source": "low_score",
        "params": {"evaluator": "relevance-judge", "below": 0.5, "app": "support-bot"},
        "labels": ["off-topic", "wrong-facts", "fine"],
        "reviews_per_item": 2,
        "lock_ttl_s": 900,
        "item_count": 120,
        "updated_at": _AT,
    },
    ReviewItemUpdated: {
        "queue": "low-relevance",
        "item_id": _CALL,
        "call_id": _CALL,
        "reason": "relevance-judge 0.2",
        "position": 17,
        "action": "reviewed",
        "actor": "key-reviewer-1",
        "status": "open",
        "reviews": [
            {"reviewer": "key-reviewer-1", "verdict": "reject", "label": "off-topic", "reviewed_at": _AT},
        ],
        "revision": 2,
        "updated_at": _AT,
    },
    DatasetExampleAdded: {
        "dataset": "support-faq",
        "version": 3,
        "digest": _DATASET_DIGEST,
        "example_id": "parcel-where",
        "position": 0,
        "input": "Where is my parcel?",
        "expected": "Your parcel is in transit and arrives tomorrow.",
        "context": ["Order A-1042 shipped on 2025-03-13 and arrives on 2025-03-15."],
        "tags": ["orders"],
        "pair_group": "parcel-pronoun",
        "pair_label": "she",
    },
    DatasetVersionCreated: {
        "name": "support-faq",
        "version": 3,
        "digest": _DATASET_DIGEST,
        "examples": 120,
        "source": "upload",
        "description": "FAQ answers reviewed by support",
        "created_at": _AT,
    },
    RunUpdated: {
        "run_id": "run-0193a5b2c4d8",
        "dataset": "support-faq",
        "dataset_version": 3,
        "variant": {
            "prompt_name": "support-answer",
            "prompt_version": 7,
            "model": "gpt-4o-mini",
            "parameters": {"temperature": 0},
        },
        "evaluators": [{"name": "answer-length", "kind": "length", "params": {"max_chars": 2000}}],
        "status": "running",
        "total": 120,
        "completed": 40,
        "failed": 1,
        "failures": [{"example_id": "refund-late", "reason": "the gateway answered 504"}],
        "created_at": _AT,
        "updated_at": _AT,
    },
    AuditChained: {
        "sequence": 0,
        "prev_hash": GENESIS_HASH,
        "hash": _CHAIN_HASH,
        "record_id": "0195940d-1a28-7c3e-9f41-2b6d8e0a4c71",
        "entry": _CHAIN_ENTRY,
    },
    AuditDigest: {
        "digest_number": 0,
        "first_sequence": 0,
        "last_sequence": 0,
        "last_hash": _CHAIN_HASH,
        "signed_at": _AT,
        "key_id": "5b2c0e4f9a1d3c77",
        "signature": "q" * 86 + "==",
    },
    AuditChainHead: {
        "next_sequence": 1,
        "hash": _CHAIN_HASH,
        "source_partition": 0,
        "source_offset": 41,
        "next_digest": 1,
        "digested_through": 0,
        "updated_at": _AT,
    },
    JudgeMonitorConfigured: {
        "monitor_id": "support-judge",
        "app": "support-bot",
        "dataset": "judge-anchors",
        "dataset_version": 1,
        "variant": {"model": "support-echo", "parameters": {"temperature": 0}},
        "judge": {
            "name": "helpfulness",
            "kind": "llm_judge",
            "params": {"model": "judge-small", "prompt": {"name": "helpfulness-rubric", "version": 2}},
        },
        "interval_s": 86400,
        "min_items": 10,
        "min_shift": 0.25,
        "alpha": 0.01,
        "baseline_run_id": "run-0193a5b2c4d8",
        "updated_by": "admin-key-1",
        "updated_at": _AT,
    },
}
EXAMPLES.update(LATER_EXAMPLES)
"""Wire-form data of one valid payload per payload class (later versions' too, from their own modules)."""


def example_data(cls: type[EventPayload]) -> dict[str, Any]:
    """A fresh copy of the example data of ``cls`` (safe to modify)."""
    return copy.deepcopy(EXAMPLES[cls])


def example(cls: type[P]) -> P:
    """The example of ``cls`` as a validated payload."""
    return cls.model_validate(EXAMPLES[cls])


ENVELOPE_EXAMPLE: dict[str, Any] = {
    "specversion": "1.0",
    "id": deterministic_uuid7(1_741_944_413_000, "acme", _CALL),  # started_at in ms, tenant, call id
    "source": "/services/ingest",
    "type": v2_calls.CallRecorded.event_type,
    "time": "2025-03-14T09:26:54.120Z",
    "dataschema": v2_calls.CallRecorded.dataschema(),
    "datacontenttype": "application/json",
    "tenantid": "acme",
    "traceid": "4bf92f3577b34da6a3ce929d0e0e4736",
    "data": EXAMPLES[v2_calls.CallRecorded],
}
"""A whole event on the wire: the CloudEvents envelope around the (v2) ``CallRecorded`` example."""
