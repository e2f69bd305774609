"""One valid payload per v2 event type, as it appears on the wire; joins :data:`llmops_schemas.v1.examples.EXAMPLES`.

The call example shows what v2 adds: an assistant tool call and its result, an image reference, cached and
reasoning tokens, two choices (one with logprobs) and the request's tools and output format.
"""

from __future__ import annotations

from typing import Any

from llmops_schemas.envelope import EventPayload
from llmops_schemas.v2.alerting import AlertRuleConfigured
from llmops_schemas.v2.alerts import AlertStateChanged, NotificationQueued
from llmops_schemas.v2.audit import AuditRecorded
from llmops_schemas.v2.calls import CallRecorded
from llmops_schemas.v2.cost import CostRecorded
from llmops_schemas.v2.drift import DriftReported
from llmops_schemas.v2.erasure import ErasureProcessed, ErasureRequested
from llmops_schemas.v2.evaluation import EvaluationScored
from llmops_schemas.v2.feedback import FeedbackReceived
from llmops_schemas.v2.governance import PolicyPublished

__all__ = ["EXAMPLES"]

_ARGUMENTS = '{"order_id": "A-1042"}'
_SCHEMA = '{"type": "object", "properties": {"order_id": {"type": "string"}}, "required": ["order_id"]}'

EXAMPLES: dict[type[EventPayload], dict[str, Any]] = {
    CallRecorded: {
        "call_id": "call-01J9Z3Q4XK",
        "app": "support-bot",
        "model": "gpt-4o-mini",
        "provider": "openai",
        "user_id": "user-42",
        "messages": [
            {"role": "system", "content": "You answer questions about orders."},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Where is my parcel? Here is the label."},
                    {
                        "type": "image",
                        "media_type": "image/png",
                        "size_bytes": 48213,
                        "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
                        "detail": "low",
                    },
                ],
            },
            {
                "role": "assistant",
                "tool_calls": [
                    {
                        "id": "call_7Yq2",
                        "type": "function",
                        "function": {"name": "track_order", "arguments": _ARGUMENTS},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_7Yq2", "content": '{"status": "shipped", "eta": "tomorrow"}'},
        ],
        "choices": [
            {"output": "It left the warehouse this morning and arrives tomorrow.", "finish_reason": "stop"},
            {
                "output": "Your parcel has shipped; expect it tomorrow.",
                "finish_reason": "stop",
                "logprobs": [
                    {
                        "token": "Your",
                        "logprob": -0.02,
                        "top_logprobs": [{"token": "Your", "logprob": -0.02}, {"token": "The", "logprob": -4.1}],
                    }
                ],
            },
        ],
        "parameters": {"temperature": 0.2, "max_tokens": 256},
        "request": {
            "tools": [
                {"type": "function", "name": "track_order", "description": "Where an order is", "parameters": _SCHEMA}
            ],
            "tool_choice": {"mode": "auto"},
            "response_format": {"type": "text"},
            "n": 2,
            "logprobs": True,
            "top_logprobs": 2,
        },
        "usage": {
            "prompt_tokens": 1310,
            "completion_tokens": 41,
            "total_tokens": 1351,
            "cached_prompt_tokens": 1024,
            "reasoning_tokens": 12,
        },
        "started_at": "2025-03-14T09:26:53Z",
        "latency_ms": 812.5,
        "prompt": {"name": "support-answer", "version": 3, "label": "production"},
        "tags": ["checkout"],
    },
    CostRecorded: {
        "call_id": "call-01J9Z3Q4XK",
        "app": "support-bot",
        "user_id": "user-42",
        "model": "gpt-4o-mini",
        "provider": "openai",
        "key_id": "key-support-prod",
        "prompt_name": "support-answer",
        "prompt_version": 3,
        "experiment_id": "exp-tone",
        "variant": "concise",
        "prompt_tokens": 1200,
        "completion_tokens": 80,
        "cached_prompt_tokens": 1024,
        "pricing": "priced",
        "price_source": "catalog",
        "catalog_version": "litellm-1.108.7",
        "input_price_per_mtok": "0.15",
        "output_price_per_mtok": "0.6",
        "cached_input_price_per_mtok": "0.075",
        "cost": "0.0001512",
        "currency": "USD",
        "call_started_at": "2025-03-14T09:26:52Z",
        "recorded_at": "2025-03-14T09:26:53Z",
    },
    FeedbackReceived: {
        "feedback_id": "fb-7c2e",
        "call_id": "call-01J9Z3Q4XK",
        "kind": "label",
        "label": "off-topic",
        "comment": "Answers about billing, not the parcel.",
        "user_id": "reviewer-7",
        "session_id": "session-31",
        "source": "review-queue",
        "given_at": "2025-03-14T09:40:00Z",
    },
    EvaluationScored: {
        "evaluation_id": "0195ef4c-2e4d-7c1a-9f4b-3d2a1c0b9e8f",
        "call_id": "call-01J9Z3Q4XK",
        "compared_call_id": "call-01J9Z3Q4XK-shadow",
        "app": "support-bot",
        "scores": [
            {
                "score_id": "0195ef4c-2e4d-7c1a-8e11-5b6a7c8d9e0f",
                "evaluator": {
                    "name": "helpfulness-pairwise",
                    "version": "1+3f2a9c1d0e4b",
                    "kind": "llm_judge",
                    "judge_model": "demo-judge",
                    "judge_prompt": "pairwise-helpfulness",
                    "judge_prompt_version": 2,
                },
                "metric": "preference",
                "score": 1,
                "score_min": -1,
                "score_max": 1,
                "label": "call",
                "explanation": "Both orders agree: the call's answer names the delivery date, the shadow's does not.",
                "latency_ms": 41.5,
                "cost_usd": 0.00012,
            },
            {
                "score_id": "0195ef4c-2e4d-7c1a-8e11-6c7d8e9f0a1b",
                "evaluator": {
                    "name": "helpfulness-pairwise",
                    "version": "1+3f2a9c1d0e4b",
                    "kind": "llm_judge",
                    "judge_model": "demo-judge",
                    "judge_prompt": "pairwise-helpfulness",
                    "judge_prompt_version": 2,
                },
                "metric": "preference_swapped",
                "outcome": "malformed",
                "explanation": "judge answer held no score: 'I cannot decide.'",
                "latency_ms": 38.0,
            },
        ],
        "judged_at": "2025-03-14T09:27:10Z",
    },
    AlertStateChanged: {
        "alert_id": "a-7f3c9e2b1d4a5f60",
        "rule": "support-bot error rate",
        "rule_id": "error-rate-support-bot",
        "severity": "critical",
        "status": "acknowledged",
        "summary": "error_rate of support-bot is 0.12 (above 0.05)",
        "value": 0.12,
        "labels": {"app": "support-bot"},
        "group_key": "app=support-bot",
        "starts_at": "2025-03-14T09:20:00Z",
        "acknowledged_by": "key-oncall",
        "acknowledged_at": "2025-03-14T09:24:00Z",
    },
    AlertRuleConfigured: {
        "rule_id": "relevance-drop-support-bot",
        "name": "support-bot relevance dropped",
        "kind": "evaluation_score_drop",
        "metric": "relevance",
        "app": "support-bot",
        "threshold": 0.1,
        "window_s": 3600,
        "baseline_s": 86400,
        "severity": "warning",
        "group_by": ["app"],
        "notifiers": ["slack-llm-team"],
        "updated_by": "key-admin",
        "updated_at": "2025-03-14T09:00:00Z",
    },
    NotificationQueued: {
        "notification_id": "0195ef4c-2e4d-7c1a-8e11-6c7d8e9f0a1c",
        "notifier_id": "pagerduty-oncall",
        "alert": {
            "alert_id": "a-7f3c9e2b1d4a5f60",
            "rule": "support-bot error rate",
            "rule_id": "error-rate-support-bot",
            "severity": "critical",
            "status": "firing",
            "summary": "error_rate of support-bot is 0.12 (above 0.05)",
            "value": 0.12,
            "labels": {"app": "support-bot"},
            "starts_at": "2025-03-14T09:20:00Z",
        },
        "queued_at": "2025-03-14T09:20:01Z",
    },
    AuditRecorded: {
        "actor": {"type": "api_key", "id": "key-3f9c2a"},
        "action": "prompt.publish",
        "resource": {"type": "prompt", "id": "support-answer"},
        "outcome": "success",
        "request_id": "req-7f3a",
        "before_digest": "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae",
        "after_digest": "fcde2b2edba56bf408601fb721fe9b5c338d10ee429ea04fae5511b68fbf8fb9",
        "details": {"version": 3, "labels": ["production"]},
        "occurred_at": "2025-03-14T09:26:54.120Z",
    },
    DriftReported: {
        "report_id": "drift-support-bot-gpt-4o-mini-2025-03-14T09",
        "app": "support-bot",
        "model": "gpt-4o-mini",
        "prompt_name": "support-answer",
        "prompt_version": 3,
        "window": {"start": "2025-03-14T09:00:00Z", "end": "2025-03-14T10:00:00Z"},
        "reference": {
            "kind": "pinned_window",
            "window": {"start": "2025-03-01T00:00:00Z", "end": "2025-03-08T00:00:00Z"},
        },
        "dataset_drift": True,
        "fdr": 0.01,
        "features": [
            {
                "feature": "latency_ms",
                "kind": "numeric",
                "test": "ks",
                "statistic": 0.41,
                "threshold": 0.01,
                "p_value": 1.5e-99,
                "p_value_adjusted": 4.5e-99,
                "effect": "wasserstein_norm",
                "effect_size": 1.18,
                "effect_threshold": 0.1,
                "drifted": True,
                "sample_size": 1000,
                "baseline_sample_size": 2000,
                "statistics": {"ks": 0.41, "psi": 1.03, "wasserstein": 293.2, "wasserstein_norm": 1.18},
            },
            {
                "feature": "prompt",
                "kind": "text",
                "test": "domain_classifier",
                "statistic": 0.52,
                "threshold": 0.01,
                "p_value": 0.4,
                "p_value_adjusted": 0.8,
                "effect": "roc_auc",
                "effect_size": 0.52,
                "effect_threshold": 0.55,
                "drifted": False,
                "sample_size": 1000,
                "baseline_sample_size": 2000,
                "notes": ["3 missing value(s) in current left out"],
            },
        ],
        "sample_size": 1000,
        "baseline_sample_size": 2000,
        "computed_at": "2025-03-14T10:00:05Z",
    },
    ErasureRequested: {
        "request_id": "erasure-2025-0042",
        "subject_type": "email",
        "subject_value": "jane.doe+support@example.com",
        "requested_by": "dpo@example.com",
        "reason": "GDPR art. 17 request #0042",
        "requested_at": "2025-03-14T09:26:53Z",
    },
    ErasureProcessed: {
        "request_id": "erasure-2025-0042",
        "service": "warehouse",
        "subject_type": "email",
        "status": "completed",
        "counts": {"calls": 131, "feedback": 4, "evaluation_scores": 2, "cost_records": 0},
        "rows_affected": 137,
        "purge_deadline": "2025-03-21T09:26:54Z",
        "completed_at": "2025-03-14T09:26:54.480Z",
    },
    PolicyPublished: {
        "policy_id": "support-bot-terms",
        "name": "Support bot: no internal code names",
        "kind": "blocked_terms",
        "version": 2,
        "description": "Code names of unreleased products must not reach a hosted model",
        "settings": {"kind": "blocked_terms", "app": "support-bot", "terms": ["project falcon", "bluebird"]},
        "updated_by": "k-admin-01",
        "updated_at": "2025-03-14T09:26:53Z",
    },
}
"""Wire-form data of one valid payload per v2 payload class."""
